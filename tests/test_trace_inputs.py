"""``peppolnet trace`` takes what ``peppolnet lookup`` takes - an organisation number with
``--country``, a VAT number, a scheme-prefixed id - through the lookup command's own reading of
it (``participant_query``), and ``--network auto`` as ``lookup`` does (production, then test
only after a believed "not registered"; the trace names the network that answered).

Two sandbox networks stand in for production and test, as in test_auto_network.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from peppolnet.cli import main
from peppolnet.cli.commands.lookup import participant_query
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.reachability import Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.trace import Trace

#: Registered in the default sandbox as 9925:be0437226708; the number's first candidate,
#: 0208:0437226708, is not registered - so the trace shows both tried, in order.
BELGIAN = "BE 0437.226.708"


def swedish(sandbox: Sandbox) -> ParticipantId:
    """A registered Swedish organisation (ICD 0007) without quirks: it can receive."""
    return next(
        p.id
        for p in sandbox.config.participants
        if p.in_sml and not p.quirks and p.id.icd == "0007"
    )


@pytest.fixture(scope="module")
def state(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(sandbox.info(), tmp_path_factory.mktemp("inputs") / "sandbox.json")


def trace_json(state: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["trace", *argv, "--json", "--network", "sandbox", "--state-file", str(state)])
    return code, json.loads(capsys.readouterr().out)


def test_the_lookup_commands_reading_of_what_was_typed() -> None:
    assert participant_query(" 0007:5567321707 ", "SE") == {"participant": "0007:5567321707"}
    uri = "iso6523-actorid-upis::0007:5567321707"
    assert participant_query(uri, None) == {"participant": uri}
    assert participant_query("556732-1707", "SE") == {"number": "556732-1707", "country": "SE"}
    assert participant_query("556732-1707", None) == {"participant": "556732-1707"}


def test_an_organisation_number_with_a_country(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = swedish(sandbox)
    typed = f"{pid.local_id[:6]}-{pid.local_id[6:]}"  # as Swedes write it: 556732-1707
    code, data = trace_json(state, capsys, typed, "--country", "Sverige")
    assert code == 0
    assert data["verdict"] == "can-receive"
    assert data["participant_id"] == pid.uri
    assert data["query"] == f"{typed} (SE)"
    identifier = data["steps"][0]
    assert identifier["name"] == "identifier"
    assert identifier["details"]["candidates"] == [pid.uri]


def test_a_vat_number_with_a_country(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = swedish(sandbox)
    code, data = trace_json(state, capsys, f"SE{pid.local_id}01", "--country", "SE")
    assert code == 0
    assert data["participant_id"] == pid.uri


@pytest.mark.parametrize("form", ["bare", "uri"])
def test_a_scheme_prefixed_id_needs_no_country(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    pid = swedish(sandbox)
    # a country given with an id changes nothing: the id says its own scheme
    code, data = trace_json(state, capsys, getattr(pid, form), "--country", "BE")
    assert code == 0
    assert data["participant_id"] == pid.uri
    assert data["steps"][0]["details"]["candidates"] == [pid.uri]


def test_a_number_with_two_candidates_shows_both_tried(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = trace_json(state, capsys, BELGIAN, "--country", "BE")
    assert code == 0
    assert data["participant_id"] == "iso6523-actorid-upis::9925:be0437226708"
    assert data["steps"][0]["details"]["candidates"] == [
        "iso6523-actorid-upis::0208:0437226708",
        "iso6523-actorid-upis::9925:be0437226708",
    ]
    dns = next(step for step in data["steps"] if step["name"] == "dns")
    assert dns["status"] == "pass"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("556732-1708", "--country", "SE"), "is not a valid"),
        (("556732-1707", "--country", "Narnia"), "'Narnia' is not a country peppolnet knows"),
        (("556732-1707",), "must start with a four-digit scheme code"),
    ],
    ids=["check-digit", "country", "no-country"],
)
def test_bad_input_is_one_sentence_and_exit_1(
    state: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    assert main(["trace", *argv, "--network", "sandbox", "--state-file", str(state)]) == 1
    captured = capsys.readouterr()
    assert says in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_the_library_takes_a_number_and_a_country_in_both_twins(sandbox: Sandbox) -> None:
    pid = swedish(sandbox)
    with Lookup(sandbox.network) as lookup:
        traced = lookup.trace(number=pid.local_id, country="SE")
    assert traced.reachability.participant == pid

    async def run() -> Trace:
        async with AsyncLookup(sandbox.network) as lookup:
            return await lookup.trace(number=BELGIAN, country="BE", document_type="invoice")

    traced = asyncio.run(run())
    assert traced.reachability.verdict is Verdict.CAN_RECEIVE
    assert str(traced.reachability.participant) == "iso6523-actorid-upis::9925:be0437226708"
