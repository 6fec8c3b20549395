"""Every message a person reads exists in Swedish and English, and the shipped catalogs are the
compiled form of the .po files: tools/catalogs.py is the one way they are made."""

from __future__ import annotations

import gettext
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.mofile import write_mo

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalogs_tool", ROOT / "tools" / "catalogs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


catalogs = _tool()


def test_every_message_has_both_languages() -> None:
    assert catalogs.problems() == []


def test_catalogs_hold_exactly_the_messages_in_the_source() -> None:
    """A message added to the code without `tools/catalogs.py update` (or left in the catalog
    after the code stopped using it) fails here, naming the message."""
    for area, template in catalogs.extract().items():
        expected = {m.id for m in template if m.id}
        for language in catalogs.LANGUAGES:
            path = catalogs._po_path(language, area)
            have = (
                {m.id for m in catalogs._read(path, language) if m.id} if path.exists() else set()
            )
            assert sorted(map(str, expected - have)) == [], f"missing from {language}/{area}.po"
            assert sorted(map(str, have - expected)) == [], f"stale in {language}/{area}.po"


def test_compiled_catalogs_match_their_po_files() -> None:
    found = list(catalogs.catalogs())
    assert {language for language, *_ in found} == {"sv", "en"}
    for language, area, path, catalog in found:
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        shipped = path.with_suffix(".mo")
        assert shipped.exists(), f"{shipped} missing: run python tools/catalogs.py compile"
        fresh = gettext.GNUTranslations(io.BytesIO(buffer.getvalue()))
        with shipped.open("rb") as handle:
            current = gettext.GNUTranslations(handle)
        assert current._catalog == fresh._catalog, (  # type: ignore[attr-defined]
            f"{language}/{area}.mo is stale: run python tools/catalogs.py compile"
        )


@pytest.mark.parametrize("area", list(catalogs.AREAS))
def test_every_area_is_a_domain_the_package_loads(area: str) -> None:
    from peppolnet.i18n import DOMAINS

    assert area in DOMAINS


def test_problems_names_a_missing_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check itself can fail: an empty Swedish msgstr and a wrong placeholder are named."""
    locale = tmp_path / "locale"
    for language in ("sv", "en"):
        (locale / language / "LC_MESSAGES").mkdir(parents=True)
    (locale / "sv" / "LC_MESSAGES" / "core.po").write_text(
        'msgid "the SMP at {url}"\nmsgstr ""\n\nmsgid "port {port}"\nmsgstr "port {porten}"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalogs, "LOCALE", locale)
    found = catalogs.problems()
    assert any("the SMP at {url}" in line and "no sv translation" in line for line in found)
    assert any("port {port}" in line and "placeholders" in line for line in found)
