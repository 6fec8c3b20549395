"""The compiled code lists: counts and states as published, look-ups, laziness, reproducibility."""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from peppolnet import codelists
from peppolnet.codelists import (
    CodeListWarning,
    SchemeState,
    document_type_entry,
    document_type_name,
    document_types,
    participant_schemes,
    process_entry,
    processes,
    scheme_for,
    transport_profile_state,
    transport_profiles,
    warn_if_not_active,
)
from peppolnet.identifiers import (
    BIS_BILLING_CREDIT_NOTE,
    BIS_BILLING_INVOICE,
    BIS_BILLING_PROCESS,
    TRANSPORT_AS4,
    DocumentTypeId,
    ProcessId,
    TransportProfile,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "peppolnet" / "data" / "codelists"


def test_participant_scheme_counts_match_the_release() -> None:
    schemes = participant_schemes()
    assert len(schemes) == 105
    assert collections.Counter(s.state for s in schemes) == {
        SchemeState.ACTIVE: 84,
        SchemeState.DEPRECATED: 5,
        SchemeState.REMOVED: 16,
    }
    assert len({s.icd for s in schemes}) == 105


def test_document_type_process_and_profile_counts() -> None:
    docs = document_types()
    assert len(docs) == 321
    assert collections.Counter(d.identifier.scheme for d in docs) == {
        "busdox-docid-qns": 290,
        "peppol-doctype-wildcard": 31,
    }
    assert collections.Counter(d.state.value for d in docs) == {
        "active": 209,
        "deprecated": 71,
        "removed": 41,
    }
    assert len(processes()) == 109
    assert len(transport_profiles()) == 5


@pytest.mark.parametrize("key", ["0007", "SE:ORGNR", "se:orgnr", " Se:OrgNr "])
def test_scheme_for_by_code_or_id(key: str) -> None:
    scheme = scheme_for(key)
    assert scheme is not None
    assert (scheme.icd, scheme.scheme_id, scheme.country) == ("0007", "SE:ORGNR", "SE")
    assert scheme.state is SchemeState.ACTIVE
    assert scheme.registrable


def test_scheme_for_unknown_and_removed() -> None:
    assert scheme_for("0123") is None
    assert scheme_for("XX:NOPE") is None
    assert scheme_for("") is None
    removed = scheme_for("9955")
    assert removed is not None
    assert removed.state is SchemeState.REMOVED
    assert removed.removal_date == "2023-07-31"
    assert not removed.registrable
    deprecated = scheme_for("NO:VAT")
    assert deprecated is not None
    assert deprecated.state is SchemeState.DEPRECATED


def test_bis_billing_document_types_and_processes() -> None:
    assert document_type_name(BIS_BILLING_INVOICE) == "Peppol BIS Billing UBL Invoice V3"
    entry = document_type_entry(BIS_BILLING_CREDIT_NOTE)
    assert entry is not None
    assert entry.state is SchemeState.ACTIVE
    assert BIS_BILLING_PROCESS in entry.process_ids
    assert ProcessId.parse("urn:peppol:bis:billing_with_response") in entry.process_ids
    process = process_entry(BIS_BILLING_PROCESS)
    assert process is not None
    assert process.state is SchemeState.ACTIVE


def test_document_types_are_case_sensitive() -> None:
    lowered = DocumentTypeId(BIS_BILLING_INVOICE.scheme, BIS_BILLING_INVOICE.value.lower())
    assert document_type_entry(lowered) is None


def test_wildcard_registration_finds_the_code_list_entry_without_star() -> None:
    listed = next(d for d in document_types() if d.identifier.is_wildcard)
    value = listed.identifier.value
    head, sep, version = value.rpartition("::")
    starred = DocumentTypeId(listed.identifier.scheme, f"{head}*{sep}{version}")
    assert document_type_entry(starred) == listed


def test_transport_profile_states() -> None:
    assert transport_profile_state(TRANSPORT_AS4) is SchemeState.ACTIVE
    assert transport_profile_state("busdox-transport-start") is SchemeState.REMOVED
    assert transport_profile_state(TransportProfile("peppol-transport-as4-v1_0")) == "removed"
    assert transport_profile_state("not-a-profile") is None
    active = [t.profile for t in transport_profiles() if t.state is SchemeState.ACTIVE]
    assert active == [TRANSPORT_AS4]


def test_warning_for_deprecated_and_removed_schemes() -> None:
    removed = scheme_for("9955")
    active = scheme_for("0007")
    assert removed is not None
    assert active is not None
    with pytest.warns(CodeListWarning, match="9955 SE:VAT is removed"):
        warn_if_not_active(removed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_not_active(active)


def test_data_is_not_loaded_at_import_time() -> None:
    code = (
        "import peppolnet.codelists as c, peppolnet.schemes as s;"
        "print(c.participant_schemes.cache_info().currsize, s._table.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["0", "0"]


def test_generated_files_record_their_source(refdata: Path) -> None:
    source_dir = refdata / "codelists" / "v9.7"
    for name in ("participant_schemes", "document_types", "processes", "transport_profiles"):
        source = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["_source"]
        raw = (source_dir / source["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == source["sha256"]
        assert source["version"] == "9.7"
    assert codelists.code_list_version() == "9.7"


def test_generator_reproduces_the_packaged_files(refdata: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_codelists
    finally:
        sys.path.remove(str(ROOT / "tools"))
    counts = gen_codelists.generate(refdata / "codelists" / "v9.7", tmp_path)
    assert counts == {
        "participant_schemes": 105,
        "document_types": 321,
        "processes": 109,
        "transport_profiles": 5,
    }
    for path in sorted(DATA.glob("*.json")):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_packaged_schemes_agree_with_the_official_json(refdata: Path) -> None:
    path = (
        refdata
        / "codelists"
        / "v9.7"
        / "Peppol Code Lists - Participant identifier schemes v9.7.json"
    )
    official = json.loads(path.read_text(encoding="utf-8"))["values"]
    ours = {s.icd: s for s in participant_schemes()}
    for entry in official:
        scheme = ours[entry["iso6523"]]
        assert scheme.scheme_id == entry["schemeid"]
        assert scheme.state.value == entry["state"]
        assert scheme.removal_date == entry.get("removal-date")
        assert scheme.registrable == entry["registrable"]
