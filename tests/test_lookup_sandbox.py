"""One lookup against the sandbox's real DNS and HTTPS servers: every verdict, every quirk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from peppolnet.errors import InvalidDocumentTypeId, InvalidParticipantId
from peppolnet.identifiers import BIS_BILLING_CREDIT_NOTE, ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.operators import OperatorRegistry
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig

# quirk -> (verdict, the check that decides it)
EXPECTED = {
    "expired-ap-certificate": (Verdict.CANNOT_RECEIVE, "ap-certificate"),
    "endpoint-not-yet-active": (Verdict.CANNOT_RECEIVE, "endpoint-validity"),
    "endpoint-expired": (Verdict.CANNOT_RECEIVE, "endpoint-validity"),
    "unsigned": (Verdict.UNKNOWN, "signature"),
    "bad-signature": (Verdict.UNKNOWN, "signature"),
    "wrong-participant-echo": (Verdict.UNKNOWN, "identifier-echo"),
    "http-endpoint": (Verdict.CANNOT_RECEIVE, "endpoint-url"),
    "http-smp": (Verdict.CANNOT_RECEIVE, "https"),
    "redirect": (Verdict.CAN_RECEIVE, None),
    "legacy-cname": (Verdict.CAN_RECEIVE, None),
    "no-meta-smp": (Verdict.CANNOT_RECEIVE, "sml"),
    "dns-servfail": (Verdict.UNKNOWN, "sml"),
    "smp-500": (Verdict.UNKNOWN, "service-metadata"),
    "old-transport-profile": (Verdict.CANNOT_RECEIVE, "transport-profile"),
    "sha1-signature": (Verdict.UNKNOWN, "signature"),
    "expired-smp-certificate": (Verdict.UNKNOWN, "smp-certificate"),
    "missing-document-type": (Verdict.CANNOT_RECEIVE, "service-metadata"),
    "wrong-process": (Verdict.CANNOT_RECEIVE, "process"),
}


def _with_quirk(sandbox: Sandbox, quirk: str) -> ParticipantConfig:
    for participant in sandbox.config.participants:
        if participant.in_sml and participant.quirks == frozenset({quirk}):
            return participant
    raise AssertionError(f"the default sandbox network has no participant with only {quirk!r}")


def _plain(sandbox: Sandbox) -> ParticipantConfig:
    return next(p for p in sandbox.config.participants if p.in_sml and not p.quirks)


@pytest.fixture(scope="module")
def lookup(sandbox: Sandbox) -> Lookup:
    with Lookup(sandbox.network, timeout=2.0) as lk:
        yield lk


def test_every_quirk_of_the_sandbox_is_covered() -> None:
    from peppolnet.sandbox.config import QUIRKS

    assert set(EXPECTED) == set(QUIRKS)


def test_can_receive_names_the_operator_and_endpoint(sandbox: Sandbox, lookup: Lookup) -> None:
    participant = _plain(sandbox)
    result = lookup.check(participant.id)
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    operator = sandbox.config.operator(participant.operator)
    assert result.operator is not None
    assert result.operator.seat_id == operator.seat_id
    assert result.operator.name == operator.name
    assert result.endpoint is not None
    assert result.endpoint.url == operator.ap_url
    assert result.smp_url is not None
    assert [c.name for c in result.checks] == [
        "identifier",
        "sml",
        "https",
        "service-metadata",
        "redirect",
        "signature",
        "smp-certificate",
        "identifier-echo",
        "process",
        "transport-profile",
        "endpoint-validity",
        "ap-certificate",
        "endpoint-url",
        "revocation",
    ]
    revocation = result.check("revocation")
    assert revocation is not None
    assert revocation.status is CheckStatus.SKIPPED
    assert "not checked" in revocation.message
    assert set(result.timings) >= {"dns", "service_metadata", "total"}
    # the reason names the deciding fact (the endpoint and its operator), not the last check
    assert operator.seat_id in result.reason
    assert operator.ap_url in result.reason
    assert "not checked" not in result.reason


@pytest.mark.parametrize("quirk", sorted(EXPECTED))
def test_each_quirk_gives_its_verdict(sandbox: Sandbox, lookup: Lookup, quirk: str) -> None:
    participant = _with_quirk(sandbox, quirk)
    result = lookup.check(participant.id)
    verdict, deciding = EXPECTED[quirk]
    assert result.verdict is verdict, str(result)
    if deciding is not None:
        failed = [c for c in result.checks if c.status is CheckStatus.FAIL]
        assert failed, str(result)
        assert failed[0].name == deciding, str(result)
        assert result.reason == failed[0].message
    if verdict is Verdict.UNKNOWN and quirk in {"dns-servfail", "smp-500"}:
        assert result.retryable


def test_redirect_is_followed_once(sandbox: Sandbox, lookup: Lookup) -> None:
    result = lookup.check(_with_quirk(sandbox, "redirect").id)
    redirect = result.check("redirect")
    assert redirect is not None
    assert redirect.status is CheckStatus.PASS


def test_not_registered(sandbox: Sandbox, lookup: Lookup) -> None:
    directory_only = next(p for p in sandbox.config.participants if not p.in_sml)
    result = lookup.check(directory_only.id)
    assert result.verdict is Verdict.NOT_REGISTERED
    assert result.check("sml") is not None
    assert lookup.check("0007:5560000001").verdict is Verdict.NOT_REGISTERED


def test_belgian_company_registered_only_under_9925_is_found_from_its_number(
    sandbox: Sandbox, lookup: Lookup
) -> None:
    only_vat = next(
        p for p in sandbox.config.participants if p.id.icd == "9925" and p.in_sml and not p.quirks
    )
    number = only_vat.id.local_id.upper().removeprefix("BE")
    typed = f"BE {number[:4]}.{number[4:7]}.{number[7:]}"
    result = lookup.check(number=typed, country="be")
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    assert result.participant == only_vat.id
    assert [c.icd for c in result.candidates] == ["0208", "9925"]
    skipped = [c for c in result.checks if c.name == "sml" and c.status is CheckStatus.SKIPPED]
    assert skipped
    assert "0208:" in skipped[0].message


def test_document_type_aliases_and_listing(sandbox: Sandbox, lookup: Lookup) -> None:
    participant = _plain(sandbox)
    credit = lookup.check(participant.id, document_type="credit-note")
    assert credit.document_type == BIS_BILLING_CREDIT_NOTE
    assert credit.verdict is Verdict.CAN_RECEIVE
    listed = lookup.check(participant.id, list_document_types=True)
    names = dict(listed.document_types)
    assert set(names) == set(participant.document_types)
    assert all(names.values())
    assert listed.check("service-group") is not None


def test_lookup_time_is_a_parameter(sandbox: Sandbox, lookup: Lookup) -> None:
    participant = _plain(sandbox)
    far_future = datetime.now(UTC) + timedelta(days=365 * 30)
    result = lookup.check(participant.id, at=far_future)
    assert result.verdict is Verdict.UNKNOWN  # the SMP certificate has expired by then
    assert result.at == far_future


def test_bad_input_raises_clear_errors(lookup: Lookup) -> None:
    with pytest.raises(InvalidParticipantId, match="four-digit"):
        lookup.check("notanid")
    with pytest.raises(InvalidDocumentTypeId, match="alias"):
        lookup.check("0007:5567321707", document_type="nonsense doc")
    with pytest.raises(InvalidDocumentTypeId, match="alias"):
        lookup.check("0007:5567321707", document_type="invioce")
    with pytest.raises(InvalidParticipantId):
        lookup.check(number="123", country="SE")
    # not text: named by its type (str(7) used to be parsed as the identifier '7')
    with pytest.raises(InvalidParticipantId, match="must be text, not int") as info:
        lookup.check(7)  # type: ignore[arg-type]
    assert info.value.message.render("sv") == "ett Peppol-ID måste vara text, inte int"  # type: ignore[attr-defined]


def test_json_summary_and_html(sandbox: Sandbox, lookup: Lookup) -> None:
    result = lookup.check(_with_quirk(sandbox, "endpoint-expired").id)
    data = result.to_json()
    assert data["verdict"] == "cannot-receive"
    assert data["reason"] == result.reason
    assert {c["name"] for c in data["checks"]} >= {"sml", "signature", "endpoint-validity"}
    assert "cannot-receive" in result.summary()
    assert "<table>" in result._repr_html_()


def test_operators_are_learned(sandbox: Sandbox) -> None:
    registry = OperatorRegistry()
    participant = _plain(sandbox)
    with Lookup(sandbox.network, operators=registry) as lk:
        lk.check(participant.id)
    seat = sandbox.config.operator(participant.operator).seat_id
    learned = registry.by_seat_id(seat)
    assert learned is not None
    assert learned.certificate_fingerprints


def test_dns_fault_is_unknown_never_not_registered(sandbox: Sandbox) -> None:
    participant = _plain(sandbox)
    with Lookup(sandbox.network, timeout=0.3) as lk:
        sandbox.dns.set_fault(None, "silence")
        try:
            result = lk.check(ParticipantId.parse(participant.id.uri))
        finally:
            sandbox.dns.set_fault(None, None)
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable


async def test_async_twin_gives_the_same_answers(sandbox: Sandbox) -> None:
    plain = _plain(sandbox)
    expired = _with_quirk(sandbox, "endpoint-expired")
    async with AsyncLookup(sandbox.network, timeout=2.0) as lk:
        first = await lk.check(plain.id)
        second = await lk.check(expired.id)
    assert first.verdict is Verdict.CAN_RECEIVE
    assert second.verdict is Verdict.CANNOT_RECEIVE
    assert [c.name for c in second.checks] == [
        c.name for c in Lookup(sandbox.network).check(expired.id).checks
    ]


class _Revocation:
    """A checker of a user's: ``status`` for the certificates of one CA, "good" for the rest."""

    def __init__(self, status: object, issuer: object, *, soft_fail: bool = False) -> None:
        self.status = status
        self.issuer = issuer
        self.soft_fail = soft_fail
        self.asked: list[str] = []

    def answer(self, certificate: object, issuer: object, at: datetime) -> object:
        from cryptography import x509

        from peppolnet.pki import RevocationAnswer, RevocationStatus

        assert isinstance(certificate, x509.Certificate)
        self.asked.append(certificate.subject.rfc4514_string())
        return RevocationAnswer(self.status if issuer == self.issuer else RevocationStatus.GOOD)


@pytest.mark.parametrize(
    ("role", "status", "verdict", "deciding", "check_status", "retryable"),
    [
        ("ap", "good", Verdict.CAN_RECEIVE, "revocation", CheckStatus.PASS, False),
        ("ap", "revoked", Verdict.CANNOT_RECEIVE, "revocation", CheckStatus.FAIL, False),
        ("ap", "unknown", Verdict.UNKNOWN, "revocation", CheckStatus.FAIL, True),
        ("ap", "not-checked", Verdict.CAN_RECEIVE, "revocation", CheckStatus.SKIPPED, False),
        ("smp", "revoked", Verdict.UNKNOWN, "smp-revocation", CheckStatus.FAIL, False),
        ("smp", "unknown", Verdict.UNKNOWN, "smp-revocation", CheckStatus.FAIL, True),
        ("smp", "good", Verdict.CAN_RECEIVE, "smp-revocation", CheckStatus.PASS, False),
    ],
)
def test_a_revocation_checker_is_asked_and_believed(
    sandbox: Sandbox,
    role: str,
    status: str,
    verdict: Verdict,
    deciding: str,
    check_status: CheckStatus,
    retryable: bool,
) -> None:
    from peppolnet.pki import RevocationStatus

    issuer = sandbox.pki.ap_ca if role == "ap" else sandbox.pki.smp_ca
    checker = _Revocation(RevocationStatus(status), issuer)
    with Lookup(sandbox.network, revocation=checker) as lk:  # type: ignore[arg-type]
        result = lk.check(_plain(sandbox).id)
    assert checker.asked
    assert result.verdict is verdict, str(result)
    assert result.retryable is retryable
    decided = [c for c in result.checks if c.name == deciding]
    assert [c.status for c in decided] == [check_status]
    if check_status is CheckStatus.FAIL:
        assert result.reason == decided[0].message


@pytest.mark.parametrize("role", ["ap", "smp"])
def test_revocation_soft_fail_turns_unknown_into_a_warning(sandbox: Sandbox, role: str) -> None:
    from peppolnet.pki import RevocationStatus

    issuer = sandbox.pki.ap_ca if role == "ap" else sandbox.pki.smp_ca
    checker = _Revocation(RevocationStatus.UNKNOWN, issuer, soft_fail=True)
    with Lookup(sandbox.network, revocation=checker) as lk:  # type: ignore[arg-type]
        result = lk.check(_plain(sandbox).id)
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    name = "revocation" if role == "ap" else "smp-revocation"
    warned = result.check(name)
    assert warned is not None
    assert warned.status is CheckStatus.WARN
    assert "soft fail" in warned.message


async def test_async_shell_runs_a_blocking_checker_in_a_thread(sandbox: Sandbox) -> None:
    import threading

    from peppolnet.pki import RevocationStatus

    threads: list[str] = []

    class Blocking(_Revocation):
        def answer(self, certificate: object, issuer: object, at: datetime) -> object:
            threads.append(threading.current_thread().name)
            return super().answer(certificate, issuer, at)

    checker = Blocking(RevocationStatus.REVOKED, sandbox.pki.ap_ca)
    async with AsyncLookup(sandbox.network, revocation=checker) as lk:  # type: ignore[arg-type]
        result = await lk.check(_plain(sandbox).id)
    assert result.verdict is Verdict.CANNOT_RECEIVE, str(result)
    assert len(threads) == 2  # the SMP and the AP certificate, each off the event loop
    assert threading.current_thread().name not in threads


OASIS2_NETWORK = """
[[operators]]
id = "a"
name = "Alfa AB"
seat_id = "PSE000001"
country = "SE"
smp = "a-smp"
ap_url = "https://ap.a.test/as4"

[[operators]]
id = "b"
name = "Beta AS"
seat_id = "PNO000002"
country = "NO"
smp = "b-smp"
ap_url = "https://ap.b.test/as4"

[[smps]]
id = "a-smp"
operator = "a"
dialect = "oasis-smp-2"

[[smps]]
id = "b-smp"
operator = "b"
dialect = "oasis-smp-2"

[[participants]]
id = "0007:5567321707"
name = "Plain AB"
country = "SE"
operator = "a"

[[participants]]
id = "0192:991825827"
name = "Redirected AS"
country = "NO"
operator = "b"
quirks = ["redirect"]
"""


def test_oasis_smp_2_lookups_and_redirects_by_certificate() -> None:
    # OASIS SMP 2 names a redirect's target SMP by its whole certificate, not a subject string.
    from peppolnet.sandbox.config import parse_config

    with Sandbox.start(parse_config(OASIS2_NETWORK)) as net, Lookup(net.network) as lk:
        plain = lk.check("0007:5567321707")
        redirected = lk.check("0192:991825827")
    assert plain.verdict is Verdict.CAN_RECEIVE, str(plain)
    assert redirected.verdict is Verdict.CAN_RECEIVE, str(redirected)
    redirect = redirected.check("redirect")
    assert redirect is not None
    assert redirect.status is CheckStatus.PASS


# The same two operators on Peppol SMP 1 SMPs; the redirect's target certificate has a comma in its
# organisation name, so its CertificateUID can escape the comma either way.
REDIRECT_NETWORK = OASIS2_NETWORK.replace('dialect = "oasis-smp-2"\n', "").replace(
    "Alfa AB", "Alfa, Syd AB"
)


def test_a_redirect_uid_in_another_spelling_is_followed() -> None:
    """The sandbox's redirect, republished with the target's subject spelled another legal way
    (X.500 order, lower-case types, values in other case, spaces, the comma as ``\\2c``), is
    followed over real HTTPS; a UID naming another certificate is still refused."""
    import dataclasses

    from cryptography import x509

    from peppolnet.errors import RedirectError
    from peppolnet.identifiers import BIS_BILLING_INVOICE
    from peppolnet.sandbox.config import parse_config
    from peppolnet.smp.client import SmpClient

    pid = ParticipantId.parse("0192:991825827")
    with Sandbox.start(parse_config(REDIRECT_NETWORK)) as sb:
        service = sb.services["b-smp"]
        publication = service.publication(pid)
        assert publication is not None
        assert publication.redirect is not None
        target, uid, target_der = publication.redirect
        subject = x509.load_der_x509_certificate(target_der).subject
        assert uid == r"CN=PSE000001,OU=PEPPOL TEST SMP,O=Alfa\, Syd AB,C=SE"

        def respelled(attribute: x509.NameAttribute[str]) -> str:
            kind, _, value = attribute.rfc4514_string().partition("=")
            return f"{kind.lower()}={value.replace(chr(92) + ',', chr(92) + '2C').swapcase()}"

        other_spelling = " ,  ".join(respelled(a) for rdn in subject.rdns for a in rdn)
        assert other_spelling == r"c=se ,  o=aLFA\2c sYD ab ,  ou=peppol test smp ,  cn=pse000001"

        def redirect_with(certificate_uid: str) -> None:
            service.publish(
                dataclasses.replace(publication, redirect=(target, certificate_uid, target_der))
            )

        redirect_with(other_spelling)
        with SmpClient(sb.network) as client:
            answer = client.service_metadata(service.base_url, pid, BIS_BILLING_INVOICE)
        assert answer.redirect is not None
        assert answer.url.startswith(sb.services["a-smp"].base_url)
        assert answer.checked.trusted
        with Lookup(sb.network) as lookup:
            result = lookup.check(pid)
        assert result.verdict is Verdict.CAN_RECEIVE, str(result)
        followed = result.check("redirect")
        assert followed is not None
        assert followed.status is CheckStatus.PASS

        redirect_with(other_spelling.replace("pse000001", "pse000003"))
        with SmpClient(sb.network) as client, pytest.raises(RedirectError, match="pse000003"):
            client.service_metadata(service.base_url, pid, BIS_BILLING_INVOICE)


def test_bad_arguments_are_input_errors(lookup: Lookup) -> None:
    from peppolnet.errors import InvalidInput, InvalidProcessId

    with pytest.raises(InvalidInput, match="time zone"):
        lookup.check("0007:5567321707", at=datetime(2026, 1, 1))
    with pytest.raises(InvalidDocumentTypeId):
        lookup.check("0007:5567321707", document_type=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidProcessId):
        lookup.check("0007:5567321707", process=5)  # type: ignore[arg-type]


def test_a_revoked_redirecting_smp_cannot_steer_lookups() -> None:
    """Regression (review): only the final document's signer was asked about revocation, so a
    revoked SMP key could still send lookups wherever it liked through a Redirect."""
    from peppolnet.revocation import CrlChecker

    with Sandbox.start() as sb:
        pid = str(_with_quirk(sb, "redirect").id)
        with CrlChecker() as crl, Lookup(sb.network, revocation=crl) as lk:
            before = lk.check(pid)
        assert before.verdict is Verdict.CAN_RECEIVE
        redirect = before.check("redirect")
        assert redirect is not None
        assert "redirecting SMP's certificate is not revoked" in redirect.message
        redirecting = _with_quirk(sb, "redirect").operator
        sb.revoke(redirecting, "smp")
        with CrlChecker() as crl, Lookup(sb.network, revocation=crl) as lk:
            after = lk.check(pid)
    assert after.verdict is Verdict.UNKNOWN
    assert not after.retryable
    redirect = after.check("redirect")
    assert redirect is not None
    assert redirect.status is CheckStatus.FAIL
    assert "has been revoked" in redirect.message


class _Broken:
    """A revocation checker of a user's that fails with something that is not ours."""

    soft_fail = False

    def answer(self, cert: object, issuer: object, at: datetime) -> object:
        raise OSError("the CRL proxy is down")


async def test_a_checker_that_raises_gives_unknown_never_a_crash(sandbox: Sandbox) -> None:
    pid = str(_plain(sandbox).id)
    with Lookup(sandbox.network, revocation=_Broken()) as lk:  # type: ignore[arg-type]
        sync = lk.check(pid)
    async with AsyncLookup(sandbox.network, revocation=_Broken()) as alk:  # type: ignore[arg-type]
        asynchronous = await alk.check(pid)
    for result in (sync, asynchronous):
        assert result.verdict is Verdict.UNKNOWN
        assert result.retryable
        check = result.check("smp-revocation")
        assert check is not None
        assert "the CRL proxy is down" in check.message


@pytest.mark.parametrize(
    ("quirk", "check", "english"),
    [
        ("bad-signature", "signature", "the document digest does not match"),
        ("expired-smp-certificate", "smp-certificate", "expired"),
    ],
)
def test_a_refused_signature_says_why_in_swedish_too(
    sandbox: Sandbox, lookup: Lookup, quirk: str, check: str, english: str
) -> None:
    """Why a signature or the signer's chain was refused is part of the check's sentence, and
    in the reader's language: the reason travels as the error's catalog sentence."""
    from peppolnet.i18n import render

    result = lookup.check(_with_quirk(sandbox, quirk).id)
    (refused,) = [c for c in result.checks if c.name == check]
    assert english in str(refused.message)
    swedish = render(refused.message, "sv")
    assert english not in swedish
    assert render(refused.message, "en") == str(refused.message)
