"""Every error sentence a person can read comes from the catalog, in Swedish and English.

Why: an exception's message is what a person reads when something went wrong - on the command
line, on the support page (a fault's detail), in a notebook, in a bulk run's row. A message
written as a plain string or f-string is English under ``--lang sv`` too. This test walks the
package's syntax and fails for every ``raise SomeError("...")`` or ``raise SomeError(f"...")``
whose message is not made with :func:`peppolnet.i18n._`, unless no person reads it: the
exceptions on :data:`ALLOWED` (by file and exception class, never by line, so that an edit
does not break it), each with its reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from peppolnet.errors import InvalidDocumentTypeId, InvalidInput
from peppolnet.i18n import Message, render
from peppolnet.identifiers import DocumentTypeId
from peppolnet.recipients.tracking import RequestTracker

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "peppolnet"

_PROTOCOL = "a Python protocol error worded as Python words its own (no catalog there either)"
_INVARIANT = "a broken invariant of the code itself (a bug): a developer reads the traceback"

#: (file under src/peppolnet, exception as written at the raise) -> why no person reads it.
ALLOWED: dict[tuple[str, str], str] = {
    ("__init__.py", "AttributeError"): _PROTOCOL + ": module __getattr__",
    ("dnssec/__init__.py", "AttributeError"): _PROTOCOL + ": module __getattr__",
    ("network.py", "AttributeError"): _PROTOCOL + ": module __getattr__",
    ("identifiers.py", "AttributeError"): _PROTOCOL + ": 'X is immutable'",
    ("trace/model.py", "dataclasses.FrozenInstanceError"): _PROTOCOL + ": a frozen dataclass",
    ("analytics/shares.py", "TypeError"): _PROTOCOL + ": 'f() got an unexpected keyword'",
    ("bulk/run.py", "TypeError"): _PROTOCOL + ": 'f() got an unexpected keyword'",
    ("bulk/registers.py", "AssertionError"): _INVARIANT + ": 'unreachable'",
    ("bulk/processes.py", "RuntimeError"): _INVARIANT + ": the workers' row count",
    ("bulk/run.py", "RuntimeError"): _INVARIANT + ": the engine never ends a run short",
    ("bulk/worker.py", "RuntimeError"): "a fault raised on purpose by the tests' worker hook",
    ("web/casework.py", "RuntimeError"): _INVARIANT + ": the app is made with its case desk",
    ("web/registers.py", "RuntimeError"): _INVARIANT + ": jobs run only in a started app",
    ("sandbox/signing.py", "ValueError"): (
        "the sandbox signs its own fixtures with fixed arguments; no user input reaches it"
    ),
    ("sandbox/directory_service.py", "_BadQuery"): (
        "the sandbox Directory's HTTP 400 text, worded as the real Peppol Directory's (English "
        "only): it is the network's text, which the client shows as it shows the real one's"
    ),
}

#: Exceptions whose first argument is a code, not a sentence: the other arguments are checked.
CODE_FIRST: dict[str, str] = {
    "HttpFault": "its kind: timeout, connect, broken, unreadable or url",
    "_http.HttpFault": "its kind: timeout, connect, broken, unreadable or url",
    "_Ended": "the name of the check that ended the lookup",
    "_FieldError": "the place in the sandbox's network file, such as operators[0].id",
}


#: Keyword arguments that carry a sentence (others, such as ``step=`` or ``value=``, are codes).
_MESSAGE_KEYWORDS = ("message", "detail")


def _is_text(node: ast.expr) -> bool:
    """A sentence written in the code: a literal, an f-string, or one joined or formatted."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _is_text(node.func.value)
    return False


#: An exception made to be raised or returned (``return StoreError(...)``) is named so.
_EXCEPTION_NAME = re.compile(r"(Error|Fault|Failure|Database|Exception)$")


def _exceptions(tree: ast.AST) -> Iterator[ast.Call]:
    """Every exception made in ``tree``: what a raise makes, and calls of a class named as an
    exception anywhere else (helpers build them and return them to be raised)."""
    raised: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            raised.add(id(node.exc))
            yield node.exc
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and id(node) not in raised
            and _EXCEPTION_NAME.search(ast.unparse(node.func).rsplit(".", 1)[-1])
        ):
            yield node


def plain_messages(call: ast.Call) -> Iterator[ast.expr]:
    """The arguments of the exception ``call`` that are sentences written as plain text."""
    name = ast.unparse(call.func)
    args = list(call.args)
    if name in CODE_FIRST:
        args = args[1:]
    args += [kw.value for kw in call.keywords if kw.arg in _MESSAGE_KEYWORDS]
    yield from (arg for arg in args if _is_text(arg))


def plain_raises(root: Path = PACKAGE) -> Iterator[tuple[str, str, int, str]]:
    """(file, exception as written, line, message source) for every exception made with a
    plain-text message."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for call in _exceptions(ast.parse(path.read_text(encoding="utf-8"))):
            for arg in plain_messages(call):
                yield relative, ast.unparse(call.func), call.lineno, ast.unparse(arg)[:100]


def test_every_raised_sentence_comes_from_the_catalog() -> None:
    found = [
        f"{file}:{line}: raise {name}({text})"
        for file, name, line, text in plain_raises()
        if (file, name) not in ALLOWED
    ]
    assert found == [], "messages not made with _() (or add the site to ALLOWED with why):\n" + (
        "\n".join(found)
    )


def test_the_allowlist_names_only_sites_that_exist() -> None:
    """An entry whose raise sites are gone (converted or deleted) is removed, so the list
    stays the true list of exceptions."""
    used = {(file, name) for file, name, _line, _text in plain_raises()}
    assert sorted(set(ALLOWED) - used) == []


def test_the_detector_finds_each_kind_of_plain_message(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "def f(x):\n"
        "    raise ValueError('plain')\n"
        "    raise ValueError(f'an {x}')\n"
        "    raise ValueError('a ' + x)\n"
        "    raise ValueError('{}'.format(x))\n"
        "    raise HttpFault('url', 'detail')\n"
        "    raise HttpFault('url', _('detail'))\n"
        "    raise ValueError(_('catalog {x}', x=x))\n"
        "    raise ValueError(x)\n"
        "    return StoreError(f'no {x}')\n"
        "    return int('7')\n",
        encoding="utf-8",
    )
    lines = [line for _file, _name, line, _text in plain_raises(tmp_path)]
    assert lines == [2, 3, 4, 5, 6, 10]


def test_a_converted_error_is_english_as_text_and_swedish_rendered(tmp_path: Path) -> None:
    """Two of the sentences this test made into catalog messages: ``str()`` of the error (logs,
    ``--json``) stays English, while ``render(error, "sv")`` (the CLI, the page) is Swedish."""
    with pytest.raises(InvalidDocumentTypeId) as doctype:
        DocumentTypeId.parse("busdox-docid-qns::")
    with (
        RequestTracker(tmp_path / "requests.db") as tracker,
        pytest.raises(InvalidInput) as unknown,
    ):
        tracker.cancel("nope")
    for caught, english, swedish in (
        (doctype.value, "the document type identifier is empty", "dokumenttyps-ID:t är tomt"),
        (unknown.value, "no request with id 'nope' in ", "det finns ingen förfrågan med id 'nope'"),
    ):
        assert isinstance(caught.message, Message)
        assert str(caught).startswith(english)
        assert render(caught, "sv").startswith(swedish)


def test_the_command_line_shows_a_converted_error_in_swedish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI renders an error's message in the command's language: a request id that the
    recipient database does not hold was said in English only before."""
    from peppolnet.cli import main

    db = str(tmp_path / "requests.db")
    assert main(["request", "cancel", "nope", "--db", db, "--lang", "sv"]) == 1
    assert "det finns ingen förfrågan med id 'nope'" in capsys.readouterr().err
    assert main(["request", "cancel", "nope", "--db", db, "--lang", "en"]) == 1
    assert "no request with id 'nope'" in capsys.readouterr().err


def test_a_protocol_error_keeps_its_swedish_through_the_http_layers() -> None:
    """httpcore's error, re-raised as httpx's and described as an HTTP fault's detail, is
    still the catalog message: ``str(exc)`` on the way would have made it English."""
    import httpcore
    import httpx

    from peppolnet._neterrors import describe
    from peppolnet.i18n import _, message_of

    inner = httpcore.RemoteProtocolError(_("the answer's status line is malformed"))
    detail = describe(httpx.RemoteProtocolError(message_of(inner)))
    assert str(detail) == "the answer's status line is malformed"
    assert render(detail, "sv") == "svarets statusrad är felaktig"
