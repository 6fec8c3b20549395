"""``peppolnet smp parse``: output shape, exit codes, verification with real and own signatures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from peppolnet.cli import main

VEFA = "samples/smp-peppol/vefa-peppol"
REDIRECT = f"{VEFA}/busdox-servicemetadata-redirect-0192-991825827.xml"
METADATA = f"{VEFA}/busdox-servicemetadata-0192-991825827.xml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object] | str]:
    code = main(["smp", "parse", *argv])
    out = capsys.readouterr().out
    if "--json" in argv and out:
        return code, json.loads(out)
    return code, out


def test_metadata_json_without_verify(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(refdata / METADATA), "--json")
    assert code == 0
    assert isinstance(out, dict)
    assert out["kind"] == "service-metadata"
    assert out["dialect"] == "peppol-smp-1"
    assert out["participant_id"] == "iso6523-actorid-upis::0192:991825827"
    (process,) = out["processes"]  # type: ignore[misc]
    as4 = process["endpoints"][2]
    assert as4["transport_profile"] == "peppol-transport-as4-v2_0"
    assert as4["url"] == "https://ectrade.ec.evry.com/peppol/as4"
    assert as4["expiration"] == "2022-07-21T23:59:59Z"
    assert as4["certificate"]["seat_id"] == "PNO000051"
    assert out["signature"] == {
        "present": True,
        "valid": None,
        "algorithm": "rsa-sha1",
        "signer_subject": (
            "C=NO,O=Direktoratet for Forvaltning og IKT,OU=PEPPOL PRODUCTION SMP,CN=PNO000179"
        ),
        "chain_valid": None,
        "problem": None,
    }


def test_real_g2_signature_verifies_and_chains(
    refdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(refdata / REDIRECT), "--json", "--verify", "--trust", "legacy-g2-test"]
    code, out = run(capsys, *argv, "--at", "2021-06-01T00:00:00Z")
    assert code == 0
    assert isinstance(out, dict)
    assert out["kind"] == "redirect"
    assert out["signature"]["valid"] is True  # type: ignore[index]
    assert out["signature"]["chain_valid"] is True  # type: ignore[index]
    # the signer certificate expired 2022-10-23
    code, out = run(capsys, *argv, "--at", "2024-01-01")
    assert code == 1
    assert out["signature"]["chain_valid"] is False  # type: ignore[index]
    assert "expired" in out["signature"]["problem"]  # type: ignore[index]


def test_sha1_is_refused_by_g3_networks_unless_allowed(
    refdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, str(refdata / REDIRECT), "--json", "--verify", "--trust", "test")
    assert code == 1
    assert out["signature"]["valid"] is False  # type: ignore[index]
    assert "rsa-sha1" in out["signature"]["problem"]  # type: ignore[index]
    argv = [str(refdata / REDIRECT), "--json", "--verify", "--trust", "test", "--allow-sha1"]
    code, out = run(capsys, *argv)
    assert code == 1
    assert out["signature"]["valid"] is True  # type: ignore[index]
    assert out["signature"]["chain_valid"] is False  # type: ignore[index]


def test_tampered_document_fails(
    refdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (refdata / METADATA).read_bytes().replace(b"peppol/as4<", b"evil/as4<")
    path = tmp_path / "tampered.xml"
    path.write_bytes(data)
    argv = [str(path), "--json", "--verify", "--trust", "legacy-g2-production"]
    code, out = run(capsys, *argv, "--at", "2021-06-01")
    assert code == 1
    assert out["signature"]["valid"] is False  # type: ignore[index]
    assert "digest" in out["signature"]["problem"]  # type: ignore[index]


def test_sha256_signature_with_own_pki_and_pem_trust(
    refdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from peppolnet.sandbox.pki import TestPki
    from peppolnet.sandbox.signing import sign_enveloped

    pki = TestPki.generate(tmp_path / "pki")
    issued = pki.issue_smp_certificate("PXX000001", "Test SMP", "NO")
    unsigned = (refdata / "samples/smp-peppol/phoss-smp/peppol-service-metadata.xml").read_bytes()
    inner = etree.fromstring(unsigned)
    smp = "http://busdox.org/serviceMetadata/publishing/1.0/"
    root = etree.Element(f"{{{smp}}}SignedServiceMetadata", nsmap={"smp": smp})
    root.append(inner)
    sign_enveloped(root, issued.private_key, issued.certificate)
    doc = tmp_path / "signed.xml"
    doc.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(pki.smp_ca.public_bytes(serialization.Encoding.PEM))

    code, out = run(capsys, str(doc), "--json", "--verify", "--trust", str(anchors))
    assert code == 0, out
    assert out["signature"]["algorithm"] == "rsa-sha256"  # type: ignore[index]
    assert out["signature"]["chain_valid"] is True  # type: ignore[index]
    assert "PXX000001" in out["signature"]["signer_subject"]  # type: ignore[index]
    (process,) = out["processes"]  # type: ignore[misc]
    assert "base64" in process["endpoints"][0]["certificate"]["problem"]
    # the same document against the G3 production anchors does not chain
    code, out = run(capsys, str(doc), "--json", "--verify")
    assert code == 1
    assert out["signature"]["valid"] is True  # type: ignore[index]
    assert out["signature"]["chain_valid"] is False  # type: ignore[index]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20000)).isoformat()
    code, _ = run(capsys, str(doc), "--json", "--verify", "--trust", str(anchors), "--at", future)
    assert code == 1


def test_unsigned_document_with_verify(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = refdata / "samples/smp-bdxr2/oasis/simpleGroupExample.xml"
    code, out = run(capsys, str(path), "--json")
    assert code == 0
    assert out["kind"] == "service-group"  # type: ignore[index]
    assert out["dialect"] == "oasis-smp-2"  # type: ignore[index]
    assert len(out["document_types"]) == 2  # type: ignore[index,arg-type]
    assert out["signature"]["present"] is False  # type: ignore[index]
    code, out = run(capsys, str(path), "--json", "--verify")
    assert code == 1
    assert out["signature"]["valid"] is False  # type: ignore[index]


def test_text_output(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(refdata / f"{VEFA}/busdox-servicegroup-0192-991825827.xml"))
    assert code == 0
    assert isinstance(out, str)
    assert out.startswith("service-group (peppol-smp-1)")
    assert "document types (9):" in out


def test_invalid_and_hostile_documents_exit_3(
    refdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = refdata / "samples/smp-bdxr1/cef-conformance-templates/ServiceGroup-template.xml"
    assert main(["smp", "parse", str(template)]) == 3
    xxe = tmp_path / "xxe.xml"
    xxe.write_bytes(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    assert main(["smp", "parse", str(xxe), "--json"]) == 3
    err = capsys.readouterr().err
    assert "DOCTYPE" in err
    assert "root:" not in err  # nothing from /etc/passwd


def test_usage_errors_exit_2(refdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smp", "parse", str(refdata / METADATA), "--at", "yesterday"]) == 2
    assert main(["smp", "parse", "/no/such/file.xml"]) == 2
    assert main(["smp", "parse", str(refdata / METADATA), "--verify", "--trust", "nope"]) == 2
    assert main(["smp", "parse"]) == 2
    assert "error" in capsys.readouterr().err
