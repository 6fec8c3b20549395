"""Peppol PKI checks: certificate facts, chain validation at an instant, revocation hooks."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from _certificates import padded_certificate
from peppolnet.errors import (
    CertificateError,
    ChainError,
    InvalidInput,
    PeppolnetError,
    UntrustedCertificate,
)
from peppolnet.network import PRODUCTION, TEST
from peppolnet.pki import (
    SEAT_ID_PATTERN,
    CertificateFacts,
    NoRevocationCheck,
    RevocationAnswer,
    RevocationStatus,
    check_revocation,
    load_certificate,
    validate_chain,
)
from peppolnet.sandbox.pki import TestPki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


def test_facts_of_a_leaf(pki: TestPki) -> None:
    issued = pki.issue_smp_certificate("PNO000179", "Acme Operator AS", "NO")
    facts = CertificateFacts.from_certificate(issued.certificate)
    assert facts.seat_id == "PNO000179"
    assert facts.common_name == "PNO000179"
    assert facts.organisation == "Acme Operator AS"
    assert facts.country == "NO"
    assert facts.subject == "CN=PNO000179,OU=PEPPOL TEST SMP,O=Acme Operator AS,C=NO"
    assert facts.not_before.tzinfo is not None
    assert len(facts.sha256_fingerprint) == 64
    assert facts.sha256_fingerprint.islower()
    js = facts.to_json()
    assert js["seat_id"] == "PNO000179"
    assert js["not_after"].endswith("Z")


def test_seat_id_only_when_cn_matches(pki: TestPki) -> None:
    issued = pki.issue_ap_certificate("SMP_1000000005", "Old style", "NO")
    assert CertificateFacts.from_certificate(issued.certificate).seat_id is None


def test_load_certificate_forms(pki: TestPki) -> None:
    cert = pki.smp_ca
    der = cert.public_bytes(Encoding.DER)
    pem = cert.public_bytes(Encoding.PEM)
    b64 = base64.encodebytes(der).decode().replace("\n", "\r\n  ")
    for form in (der, pem, pem.decode(), b64, b64.encode()):
        assert load_certificate(form) == cert
    assert CertificateFacts.from_der(der).subject == cert.subject.rfc4514_string()
    with pytest.raises(CertificateError):
        load_certificate(b"not a certificate")


@given(st.binary(max_size=200))
def test_load_certificate_only_raises_typed_errors(data: bytes) -> None:
    with contextlib.suppress(PeppolnetError):
        load_certificate(data)


@given(st.from_regex(SEAT_ID_PATTERN, fullmatch=True))
def test_seat_id_pattern_accepts_generated(seat: str) -> None:
    assert SEAT_ID_PATTERN.fullmatch(seat)


def test_chain_to_smp_ca(pki: TestPki) -> None:
    issued = pki.issue_smp_certificate("PBE000001", "SMP", "BE")
    assert validate_chain(issued.certificate, [pki.smp_ca]) == (issued.certificate, pki.smp_ca)
    # with the root as anchor and the SMP CA as intermediate
    path = validate_chain(issued.certificate, [pki.root], intermediates=[pki.smp_ca])
    assert path == (issued.certificate, pki.smp_ca, pki.root)


def test_ap_certificate_is_not_an_smp_certificate(pki: TestPki) -> None:
    ap = pki.issue_ap_certificate("PBE000002", "AP", "BE")
    assert validate_chain(ap.certificate, [pki.ap_ca])[-1] == pki.ap_ca
    with pytest.raises(UntrustedCertificate, match="issuer not trusted"):
        validate_chain(ap.certificate, [pki.smp_ca])


def test_expired_and_not_yet_valid(pki: TestPki) -> None:
    expired = pki.issue_smp_certificate(
        "PBE000003",
        "SMP",
        "BE",
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ChainError, match="expired at 2021-01-01T00:00:00Z"):
        validate_chain(expired.certificate, [pki.smp_ca])
    future = datetime.now(UTC) + timedelta(days=30)
    early = pki.issue_smp_certificate("PBE000004", "SMP", "BE", not_before=future)
    with pytest.raises(ChainError, match="not yet valid"):
        validate_chain(early.certificate, [pki.smp_ca])
    # time is a parameter
    later = future + timedelta(days=1)
    assert validate_chain(early.certificate, [pki.smp_ca], at=later)[0] == early.certificate


def test_bad_issuer_signature(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = TestPki.generate(tmp_path_factory.mktemp("other"))  # same CA names, other keys
    issued = other.issue_smp_certificate("PBE000005", "SMP", "BE")
    with pytest.raises(ChainError, match="bad issuer signature"):
        validate_chain(issued.certificate, [pki.smp_ca])


def test_issuer_not_a_ca(pki: TestPki) -> None:
    # a leaf posing as the issuer of another certificate
    leaf = pki.issue_smp_certificate("PBE000006", "SMP", "BE")
    with pytest.raises(UntrustedCertificate):
        validate_chain(leaf.certificate, [leaf.certificate])
    # the TLS certificate (CA:FALSE) used as an anchor for a cert it did not sign
    tls = pki.issue_tls_certificate()
    assert tls.certificate.issuer == pki.root.subject


def test_pathlen_constraint(pki: TestPki) -> None:
    # SMP CA has pathlen 0: SMP CA -> SMP CA loops are not allowed and the root (pathlen 1)
    # accepts exactly one CA below it
    leaf = pki.issue_smp_certificate("PBE000007", "SMP", "BE")
    path = validate_chain(leaf.certificate, [pki.root], intermediates=[pki.smp_ca, pki.ap_ca])
    assert len(path) == 3


def test_revocation_not_checked_by_default(pki: TestPki) -> None:
    leaf = pki.issue_smp_certificate("PBE000008", "SMP", "BE")
    path = validate_chain(leaf.certificate, [pki.smp_ca])
    assert check_revocation(path, NoRevocationCheck()) is RevocationStatus.NOT_CHECKED

    class Revoked:
        soft_fail = False

        def answer(self, cert: object, issuer: object, at: datetime) -> RevocationAnswer:
            return RevocationAnswer(RevocationStatus.REVOKED)

    assert check_revocation(path, Revoked()) is RevocationStatus.REVOKED


def test_a_checker_without_the_declared_methods_is_refused_by_name() -> None:
    """A misspelt method used to be skipped silently (found with getattr); now it is refused."""
    from peppolnet.lookup import AsyncLookup, Lookup
    from peppolnet.pki import AsyncRevocationChecker, RevocationChecker, require_checker

    class Misspelt:
        soft_fail = False

        def anwser(self, cert: object, issuer: object, at: datetime) -> RevocationAnswer:
            return RevocationAnswer(RevocationStatus.GOOD)

    class OnlyAsync:
        soft_fail = False

        async def aanswer(self, cert: object, issuer: object, at: datetime) -> RevocationAnswer:
            return RevocationAnswer(RevocationStatus.GOOD)

    with pytest.raises(InvalidInput, match=r"needs answer\(cert, issuer, at\).*Misspelt"):
        Lookup(PRODUCTION, revocation=Misspelt())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="OnlyAsync"):
        Lookup(PRODUCTION, revocation=OnlyAsync())  # type: ignore[arg-type]
    require_checker(OnlyAsync(), asynchronous=True)  # an AsyncLookup takes it
    assert isinstance(OnlyAsync(), AsyncRevocationChecker)
    assert not isinstance(OnlyAsync(), RevocationChecker)
    with pytest.raises(InvalidInput, match="Misspelt"):
        AsyncLookup(PRODUCTION, revocation=Misspelt())  # type: ignore[arg-type]


def test_builtin_g3_anchors_are_cas() -> None:
    for network in (PRODUCTION, TEST):
        for ca in network.smp_ca + network.ap_ca:
            facts = CertificateFacts.from_certificate(ca)
            assert facts.organisation == "OpenPEPPOL AISBL"
            assert "G3" in (facts.common_name or "")


def test_remembered_paths_never_trade_anchors_and_intermediates(pki: TestPki) -> None:
    issued = pki.issue_smp_certificate("PBE000010", "SMP", "BE")
    anchors = [pki.smp_ca]
    assert validate_chain(issued.certificate, anchors) == (issued.certificate, pki.smp_ca)
    # The same certificate objects, but the CA now only an intermediate: not trusted.
    with pytest.raises(UntrustedCertificate):
        validate_chain(issued.certificate, [], intermediates=anchors)
    with pytest.raises(UntrustedCertificate):
        validate_chain(issued.certificate, [pki.ap_ca], intermediates=anchors)
    # Still the right answer, again and again, for fresh lists of the same objects.
    for _ in range(3):
        assert validate_chain(issued.certificate, list(anchors))[-1] is pki.smp_ca


def test_remembered_paths_still_check_dates_on_every_call(pki: TestPki) -> None:
    now = datetime.now(UTC)
    issued = pki.issue_smp_certificate(
        "PBE000011", "SMP", "BE", not_before=now, not_after=now + timedelta(days=10)
    )
    inside = now + timedelta(days=1)
    assert validate_chain(issued.certificate, [pki.smp_ca], at=inside)[0] is issued.certificate
    with pytest.raises(ChainError, match="expired"):
        validate_chain(issued.certificate, [pki.smp_ca], at=inside + timedelta(days=30))


def test_remembered_paths_check_every_certificate_of_the_path_on_every_call(
    pki: TestPki,
) -> None:
    # The memo keeps the window in which the whole path is valid; outside it, the certificate
    # that is not valid is named, even when it is the anchor and the leaf still is.
    ca_until = pki.smp_ca.not_valid_after_utc
    start = datetime.now(UTC) + timedelta(days=2)
    issued = pki.issue_smp_certificate(
        "PBE000015", "SMP", "BE", not_before=start, not_after=ca_until + timedelta(days=400)
    )
    leaf = issued.certificate
    assert validate_chain(leaf, [pki.smp_ca], at=start + timedelta(days=1))[0] is leaf
    with pytest.raises(ChainError, match="expired") as expired:
        validate_chain(leaf, [pki.smp_ca], at=ca_until + timedelta(days=1))
    assert pki.smp_ca.subject.rfc4514_string() in str(expired.value)
    assert "PBE000015" not in str(expired.value)
    with pytest.raises(ChainError, match="not yet valid") as early:
        validate_chain(leaf, [pki.smp_ca], at=start - timedelta(days=1))
    assert "PBE000015" in str(early.value)
    # and inside the window again after those failures
    assert validate_chain(leaf, [pki.smp_ca], at=ca_until - timedelta(days=1))[-1] is pki.smp_ca


def test_an_equal_certificate_object_gets_the_same_answer(pki: TestPki) -> None:
    issued = pki.issue_smp_certificate("PBE000012", "SMP", "BE")
    der = issued.certificate.public_bytes(Encoding.DER)
    twin = load_certificate(der)
    assert twin is not issued.certificate
    assert validate_chain(twin, [pki.smp_ca]) == validate_chain(issued.certificate, [pki.smp_ca])
    assert CertificateFacts.from_certificate(twin) == CertificateFacts.from_certificate(
        issued.certificate
    )


def test_facts_are_per_certificate(pki: TestPki) -> None:
    first = pki.issue_smp_certificate("PBE000013", "First", "BE")
    second = pki.issue_smp_certificate("PNO000014", "Second", "NO")
    for _ in range(2):  # the second round is answered from the memo
        assert CertificateFacts.from_certificate(first.certificate).seat_id == "PBE000013"
        assert CertificateFacts.from_certificate(second.certificate).seat_id == "PNO000014"


def _leaf_from(pki: TestPki, *, ca: bool, signing: bool) -> x509.Certificate:
    """A certificate issued by the test SMP CA with the given basicConstraints and key usage."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=not signing,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "PBE000099")]))
        .issuer_name(pki.smp_ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(pki._smp_key, hashes.SHA256())
    )


def test_the_leaf_must_be_an_end_entity_that_may_sign(pki: TestPki) -> None:
    """A CA certificate or a key that may not sign must not pass for an SMP's or AP's."""
    good = _leaf_from(pki, ca=False, signing=True)
    assert validate_chain(good, [pki.smp_ca])[0] is good
    with pytest.raises(ChainError, match="is a CA certificate"):
        validate_chain(_leaf_from(pki, ca=True, signing=True), [pki.smp_ca])
    with pytest.raises(ChainError, match="may not make signatures"):
        validate_chain(_leaf_from(pki, ca=False, signing=False), [pki.smp_ca])


def test_unreadable_extensions_are_chain_errors(pki: TestPki) -> None:
    """Regression (review): cryptography parses extensions lazily; a malformed one raised a raw
    ValueError out of validate_chain and crashed lookups."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    not_a_bit_string = x509.UnrecognizedExtension(x509.oid.ExtensionOID.KEY_USAGE, b"\x05\x00")
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "PBE000098")]))
        .issuer_name(pki.smp_ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(not_a_bit_string, critical=False)
        .sign(pki._smp_key, hashes.SHA256())
    )
    with pytest.raises(ChainError, match="unreadable extensions"):
        validate_chain(leaf, [pki.smp_ca])


def test_certificate_memos_are_bounded_by_bytes(pki: TestPki) -> None:
    """The memos of facts and issuer checks count each certificate's DER, not entries: 40
    certificates of 400 kB would be 32 MB by count alone."""
    from peppolnet import pki as module
    from peppolnet._x509 import MEMO_BUDGET, memo_bytes

    big = [padded_certificate(pki, f"PBE0002{i:02d}", 400_000) for i in range(40)]
    assert memo_bytes(big[0]) > 800_000
    for cert in big:
        assert (
            CertificateFacts.from_certificate(cert).common_name == cert.subject.rfc4514_string()[3:]
        )
        assert validate_chain(cert, [pki.smp_ca]) == (cert, pki.smp_ca)
    memos = (module._facts, module._issued_by, module._path)
    for memo in (function.cache for function in memos):  # type: ignore[attr-defined]
        assert 0 < memo.nbytes <= MEMO_BUDGET
        assert len(memo) < 40
    # still answered right, from the memo or afresh
    assert CertificateFacts.from_certificate(big[0]).seat_id == "PBE000200"


def test_the_identity_memo_keeps_its_byte_budget() -> None:
    from peppolnet.pki import _IdentityMemo

    objects = [object() for _ in range(4)]
    memo: _IdentityMemo[str] = _IdentityMemo(size=100, max_bytes=1000)
    memo.put((objects[0],), "first", 400)
    memo.put((objects[1],), "second", 400)
    assert memo.get((objects[0],)) == "first"
    memo.put((objects[2],), "too big", 1001)  # larger than the whole budget: never kept
    assert memo.get((objects[2],)) is None
    assert memo.get((objects[1],)) == "second"
    memo.put((objects[3],), "third", 400)  # over the budget: emptied first, then kept
    assert memo.get((objects[0],)) is None
    assert memo.get((objects[1],)) is None
    assert memo.get((objects[3],)) == "third"
