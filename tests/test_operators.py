"""Operators and the registry: Seat IDs, SPIDs, tolerant names, files, learning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peppolnet.errors import InvalidInput
from peppolnet.operators import Operator, OperatorRegistry, is_seat_id, normalise_name


@pytest.fixture
def registry() -> OperatorRegistry:
    return OperatorRegistry(
        [
            Operator("PSE000101", "Pagero AB", "SE"),
            Operator("PNO000202", "Nordlys Fakturering AS", "NO"),
            Operator("PDK000303", "Ørsted Billing ApS", "DK"),
        ]
    )


def test_seat_id_shape() -> None:
    assert is_seat_id("PSE000101")
    assert not is_seat_id("pse000101")  # case-sensitive
    assert not is_seat_id("PSE00010")


def test_normalise_name_folds_case_accents_and_legal_forms() -> None:
    assert normalise_name("PAGERO AB") == normalise_name("pagero")
    assert normalise_name("Ørsted Billing ApS") == "ørsted billing"
    assert normalise_name("Åkerlund & Rausing AB") == "akerlund rausing"


def test_find_by_seat_id_and_spid(registry: OperatorRegistry) -> None:
    assert registry.find("pse000101").operator == registry.by_seat_id("PSE000101")
    assert registry.find("0242:000202").operator is not None
    assert registry.find("000202-MLS").operator is not None
    unknown = registry.find("PSE999999")
    assert unknown.operator is None
    assert unknown.problem == "no operator with Seat ID PSE999999 is known"
    malformed = registry.find("PSE12")
    assert malformed.problem is not None
    assert "not a valid Seat ID" in malformed.problem
    assert "not a valid SPID" in (registry.find("0242:12").problem or "")


def test_find_by_name_is_tolerant_and_suggests(registry: OperatorRegistry) -> None:
    match = registry.find("pagero")
    assert match.operator is not None
    assert match.operator.seat_id == "PSE000101"
    assert registry.find("NORDLYS FAKTURERING").operator is not None
    typo = registry.find("Nordlis Fakturering")
    assert typo.operator is None
    assert [op.seat_id for op in typo.suggestions] == ["PNO000202"]
    assert registry.find("Totally Different").suggestions == ()


def test_learning_merges_observations(registry: OperatorRegistry) -> None:
    registry.observe("PSE000101", smp_url="https://smp.example", fingerprint="ab")
    registry.observe("PSE000101", ap_url="https://ap.example/as4", fingerprint="cd")
    op = registry.by_seat_id("PSE000101")
    assert op is not None
    assert op.name == "Pagero AB"
    assert op.certificate_fingerprints == {"ab", "cd"}
    assert op.ap_urls == {"https://ap.example/as4"}
    assert registry.observe("not-a-seat") is None
    assert len(registry) == 3


def test_files_round_trip_and_errors(tmp_path: Path, registry: OperatorRegistry) -> None:
    path = tmp_path / "ops.json"
    registry.save(path)
    again = OperatorRegistry.load(path)
    assert [op.to_json() for op in again] == [op.to_json() for op in registry]
    toml = tmp_path / "ops.toml"
    toml.write_text('[[operators]]\nseat_id = "PFI000404"\nname = "Laskutus Oy"\n')
    assert OperatorRegistry.load(toml).find("laskutus").operator is not None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"seat_id": "nope"}]))
    with pytest.raises(InvalidInput, match=r"operator #1 .* not a Peppol Seat ID"):
        OperatorRegistry.load(bad)
    with pytest.raises(InvalidInput, match="cannot read"):
        OperatorRegistry.load(tmp_path / "missing.json")


def test_garbled_operator_files_are_input_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'[{"seat_id": "PSE000001", "name": "\xe5"}]')
    with pytest.raises(InvalidInput, match="not UTF-8"):
        OperatorRegistry.load(latin)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"operators": [{"seat_id": "PSE000001", "name": ["x"]}]}))
    with pytest.raises(InvalidInput, match="name must be text"):
        OperatorRegistry.load(wrong)


def test_an_unambiguous_part_of_a_name_or_an_alias_resolves() -> None:
    """ "norrsken" is all of no name but part of one ("Norrsken Invoice AB"): it resolves, as
    "kvittra" (all of "Kvittra AB" without its legal form) always did; so does an alias."""
    registry = OperatorRegistry(
        [
            Operator("PSE000102", "Kvittra AB", "SE", aliases=frozenset({"kvittra"})),
            Operator("PSE000109", "Norrsken Invoice AB", "SE", aliases=frozenset({"norrsken"})),
            Operator("PDE000110", "Kanal Zwei eDelivery GmbH", "DE", aliases=frozenset({"kanal2"})),
            Operator("PNO000202", "Nordlys Fakturering AS", "NO"),
            Operator("PNO000203", "Nordlys Billing AS", "NO"),
        ]
    )
    for query, seat in (
        ("kvittra", "PSE000102"),
        ("NORRSKEN", "PSE000109"),
        ("norrsken invoice", "PSE000109"),
        ("Invoice", "PSE000109"),
        ("kanal2", "PDE000110"),
        ("zwei edelivery", "PDE000110"),
        ("nordlys billing", "PNO000203"),
    ):
        match = registry.find(query)
        assert match.operator is not None, query
        assert match.operator.seat_id == seat, query
    # without the aliases, part of the name still finds it
    plain = OperatorRegistry([Operator("PSE000109", "Norrsken Invoice AB", "SE")])
    assert plain.find("norrsken").operator == plain.by_seat_id("PSE000109")
    assert plain.find("norr").operator is None  # whole words only


def test_an_ambiguous_name_names_every_candidate() -> None:
    registry = OperatorRegistry(
        [
            Operator("PNO000202", "Nordlys Fakturering AS", "NO"),
            Operator("PNO000203", "Nordlys Billing AS", "NO"),
        ]
    )
    match = registry.find("nordlys")
    assert match.operator is None
    assert [op.seat_id for op in match.suggestions] == ["PNO000202", "PNO000203"]
    assert match.message == (
        "'nordlys' fits 2 operators; give more of the name or the Seat ID; did you mean: "
        "Nordlys Fakturering AS (PNO000202), Nordlys Billing AS (PNO000203)?"
    )


def test_aliases_round_trip_and_merge(tmp_path: Path) -> None:
    registry = OperatorRegistry([Operator("PSE000109", "Norrsken Invoice AB", "SE")])
    registry.add(Operator("PSE000109", aliases=frozenset({"norrsken"})))
    path = tmp_path / "ops.json"
    registry.save(path)
    again = OperatorRegistry.load(path).by_seat_id("PSE000109")
    assert again is not None
    assert again.aliases == {"norrsken"}
    assert again.name == "Norrsken Invoice AB"
