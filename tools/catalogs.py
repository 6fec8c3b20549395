"""Manage peppolnet's Swedish and English message catalogs with Babel.

    python tools/catalogs.py update    # extract messages from the source, merge into every .po
    python tools/catalogs.py compile   # .po -> .mo (the files the package reads at run time)
    python tools/catalogs.py check     # exit 1 listing messages without both languages

Messages are found by Babel's extractors: ``_("...")`` calls in Python (peppolnet.i18n._) and
``_("...")`` / ``{% trans %}`` in the support page's Jinja2 templates. The catalogs are split by
area of the source tree (AREAS) so that work in one area does not touch another area's file; at
run time peppolnet.i18n chains them into one catalog. The .po files are written sorted and without
source locations, so a new message is one small hunk and moving code changes nothing.

The English catalog's translations equal the message ids (English is the source language); it
exists so that "every message has both languages" is one rule checked the same way for both.
"""

from __future__ import annotations

import fnmatch
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "peppolnet"
LOCALE = PACKAGE / "locale"
LANGUAGES = ("sv", "en")
KEYWORDS = {"_": (1,), "gettext": (1,), "ngettext": (1, 2)}

# area -> glob patterns (relative to src/peppolnet); the first area that matches a file wins,
# "core" takes the rest. Keep in step with peppolnet.i18n.DOMAINS.
AREAS: dict[str, tuple[str, ...]] = {
    "web": ("web/*",),
    "cli": ("cli/*",),
    "requests": ("recipients/*",),
    "analytics": ("analytics/*", "directory/export*"),
    "core": ("*",),
}


def area_of(relative: str) -> str:
    """The catalog a source file's messages belong to."""
    for area, patterns in AREAS.items():
        if any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            return area
    raise AssertionError(relative)  # "core" matches everything


def _methods() -> list[tuple[str, str]]:
    methods = [("**.py", "python")]
    try:
        import jinja2  # noqa: F401
    except ImportError:  # pragma: no cover - the web extra brings Jinja2
        return methods
    return [*methods, ("**.html", "jinja2"), ("**.txt", "jinja2"), ("**.eml", "jinja2")]


def extract() -> dict[str, Catalog]:
    """Every message in the source, as one template catalog per area."""
    templates = {area: _new_catalog(None) for area in AREAS}
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(
        str(PACKAGE),
        method_map=_methods(),
        options_map=options,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    for filename, lineno, message, comments, context in found:
        area = area_of(filename.replace("\\", "/"))
        templates[area].add(
            message, locations=[(filename, lineno)], auto_comments=comments, context=context
        )
    return templates


def _po_path(language: str, area: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{area}.po"


# Fixed header dates: a header that changed on every run would make every branch that touches a
# catalog conflict with every other one.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _new_catalog(language: str | None) -> Catalog:
    return Catalog(
        locale=language,
        project="peppolnet",
        version="",
        copyright_holder="The peppolnet developers",
        msgid_bugs_address="",
        last_translator="The peppolnet developers",
        language_team="",
        creation_date=_EPOCH,
        revision_date=_EPOCH,
        fuzzy=False,
        header_comment="# peppolnet's messages: tools/catalogs.py writes this file; edit msgstr.",
    )


def _read(path: Path, language: str) -> Catalog:
    if not path.exists():
        return _new_catalog(language)
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(
        buffer, catalog, sort_output=True, omit_header=False, no_location=True, ignore_obsolete=True
    )
    data = buffer.getvalue()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def catalogs() -> Iterator[tuple[str, str, Path, Catalog]]:
    """(language, area, .po path, catalog) for every catalog on disk."""
    for language in LANGUAGES:
        for area in AREAS:
            path = _po_path(language, area)
            if path.exists():
                yield language, area, path, _read(path, language)


def update() -> None:
    """Merge the extracted messages into every area's .po in both languages.

    New English messages get their id as translation; new Swedish ones are left empty for a
    person to translate (``check`` lists them). Messages no longer in the source are dropped.
    """
    for area, template in extract().items():
        for language in LANGUAGES:
            path = _po_path(language, area)
            if not len(template) and not path.exists():
                continue
            catalog = _read(path, language)
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
            for message in catalog:
                if message.id and language == "en" and not message.string:
                    message.string = message.id
            _write(path, catalog)


def problems() -> list[str]:
    """Every message that lacks a translation, is fuzzy, or whose placeholders differ."""
    from string import Formatter

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    found: list[str] = []
    for language, area, _path, catalog in catalogs():
        for message in catalog:
            if not message.id:
                continue
            where = f"{language}/{area}.po: {message.id!r}"
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            texts = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(texts) or message.fuzzy:
                found.append(f"{where} has no {language} translation")
                continue
            if fields(ids[0]) != set().union(*(fields(text) for text in texts)):
                found.append(f"{where} uses other placeholders than the English")
    return found


def compile_all() -> None:
    """Write every .po's .mo (only when it changed, so builds stay reproducible)."""
    for _language, _area, path, catalog in catalogs():
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        target = path.with_suffix(".mo")
        if not target.exists() or target.read_bytes() != buffer.getvalue():
            target.write_bytes(buffer.getvalue())


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command != "check":
        print(__doc__)
        return 2
    for line in problems():
        print(line)
    return 1 if problems() and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
