"""CRL revocation checking: the pure CRL judgement, and lookups over the sandbox's real CRL server.

The sandbox serves its SMP CA's and AP CA's CRLs over HTTP on 127.0.0.1 and names them in every
certificate it issues; ``Sandbox.revoke`` lists a certificate on them at run time. Nothing here is
mocked: a "server down" is the server resetting connections, a "wrong key" is a CRL really signed
by another CA's key. What the sandbox server cannot be made to send (a compressed body, a chain of
redirects, headers trickled a byte at a time, a CRL of another partition) comes from a small HTTP
server of the tests' own, on 127.0.0.1 too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import gzip
import http.server
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings
from hypothesis import strategies as st

from _certificates import padded_certificate
from _networks import crl_faults, operators_network
from peppolnet.bulk import check_many
from peppolnet.cli import main
from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.errors import InvalidInput, SandboxError
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.pki import RevocationAnswer, RevocationStatus
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.revocation import CrlChecker, crl_urls, judge_crl, read_crl
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.http import Faults, Request
from peppolnet.sandbox.pki import TestPki
from peppolnet.sandbox.state import write_state

# Four operators, each with its own SMP, so that revoking one operator's certificate in one test
# leaves the others alone: "good" tests use "a", the AP-revocation test "b", the SMP-revocation
# test "c", the bulk and CLI tests "d".
NETWORK = operators_network(
    [
        ("0007:5567321707", "a"),
        ("0007:5560000001", "b"),
        ("0007:5560000019", "c"),
        ("0007:5560000027", "d"),
    ]
)
A, B, C, D = "0007:5567321707", "0007:5560000001", "0007:5560000019", "0007:5560000027"


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start(parse_config(NETWORK)) as running:
        yield running


@pytest.fixture
def checker() -> Iterator[CrlChecker]:
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        yield crl


@contextlib.contextmanager
def crl_flaw(net: Sandbox, kind: str, flaw: str) -> Iterator[None]:
    net.crls.set_flaw(kind, flaw)
    try:
        yield
    finally:
        net.crls.set_flaw(kind, None)


def requests(net: Sandbox) -> dict[str, int]:
    return dict(net.crls.requests)


def new_requests(net: Sandbox, before: dict[str, int]) -> dict[str, int]:
    after = requests(net)
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("smp", "ap")}


# --- the pure parts ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(net: Sandbox) -> TestPki:
    return net.pki


def _leaf_with_points(pki: TestPki, points: list[x509.DistributionPoint]) -> x509.Certificate:
    ca = pki.ca_for("ap")
    leaf = pki.issue_ap_certificate("PSE000042", "Points AB", "SE")
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(leaf.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(leaf.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.CRLDistributionPoints(points), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


def _point(*urls: str, **extra: object) -> x509.DistributionPoint:
    return x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(u) for u in urls],
        relative_name=None,
        reasons=extra.get("reasons"),  # type: ignore[arg-type]
        crl_issuer=extra.get("crl_issuer"),  # type: ignore[arg-type]
    )


def test_sandbox_leaves_name_their_cas_crl(net: Sandbox) -> None:
    signer = net.pki.issue_smp_certificate("PSE000001", "Operator A AB", "SE").certificate
    ap = net.pki.issue_ap_certificate("PSE000001", "Operator A AB", "SE").certificate
    assert crl_urls(signer) == (net.crl_url("smp"),)
    assert crl_urls(ap) == (net.crl_url("ap"),)
    assert net.crl_server is not None
    assert net.crl_url("ap") == f"http://127.0.0.1:{net.crl_server.port}/ap-ca.crl"


def test_only_whole_http_distribution_points_are_used(pki: TestPki) -> None:
    cert = _leaf_with_points(
        pki,
        [
            _point("ldap://ldap.example/cn=CA?certificateRevocationList"),
            _point(
                "http://crl.example/partial.crl",
                reasons=frozenset({x509.ReasonFlags.key_compromise}),
            ),
            _point("http://crl.example/other-issuer.crl", crl_issuer=[x509.DNSName("x.example")]),
            _point(
                "http://crl.example/ca.crl",
                "https://crl.example/ca.crl",
                "http://crl.example/ca.crl",
            ),
        ],
    )
    assert crl_urls(cert) == ("http://crl.example/ca.crl", "https://crl.example/ca.crl")
    assert crl_urls(pki.ap_ca) == ()  # a CA certificate without the extension


def test_distribution_points_are_remembered_within_a_byte_budget(pki: TestPki) -> None:
    from peppolnet import revocation
    from peppolnet._x509 import MEMO_BUDGET

    big = [padded_certificate(pki, f"PBE0004{i:02d}", 400_000) for i in range(30)]
    for cert in big:
        assert crl_urls(cert=cert) == ()  # no distribution point; asked by keyword too
    memo = revocation._crl_urls.cache  # type: ignore[attr-defined]
    assert 0 < memo.nbytes <= MEMO_BUDGET
    assert len(memo) < 30


def test_no_distribution_point_is_unknown(pki: TestPki, checker: CrlChecker) -> None:
    answer = checker.answer(pki.smp_ca, pki.root, datetime.now(UTC))
    assert answer.status is RevocationStatus.UNKNOWN
    assert "no http(s) CRL distribution point" in answer.reason
    assert checker.downloads == 0


def test_read_crl_takes_der_and_pem(pki: TestPki) -> None:
    now = datetime.now(UTC)
    crl = pki.issue_crl("ap", this_update=now, next_update=now + timedelta(hours=1))
    assert read_crl(crl.public_bytes(serialization.Encoding.DER)) == crl
    assert read_crl(crl.public_bytes(serialization.Encoding.PEM)) == crl
    with pytest.raises(ValueError, match="asn1"):
        read_crl(b"not a CRL")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_read_crl_raises_only_value_error(data: bytes) -> None:
    # Whatever a server sends, reading it fails with ValueError (-> "unknown") or gives a CRL.
    with contextlib.suppress(ValueError):
        assert isinstance(read_crl(data), x509.CertificateRevocationList)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=2000))
def test_a_damaged_crl_is_never_believed(pki: TestPki, patch: bytes, offset: int) -> None:
    # Any change to a signed CRL either stops it from parsing or from verifying: never "revoked"
    # (or "good") from bytes the CA did not sign.
    now = datetime.now(UTC)
    leaf = pki.issue_ap_certificate("PSE000043", "Damaged AB", "SE").certificate
    der = pki.issue_crl(
        "ap", [(leaf.serial_number, now, None)], this_update=now, next_update=now + timedelta(1)
    ).public_bytes(serialization.Encoding.DER)
    at = offset % len(der)
    damaged = der[:at] + patch + der[at + len(patch) :]
    if damaged == der:
        return
    try:
        crl = read_crl(damaged)
    except ValueError:
        return
    answer = judge_crl(crl, leaf, pki.ap_ca, now, now=now)
    if answer.status is not RevocationStatus.UNKNOWN:
        # only bytes outside the signed part (the signature's own encoding) may change harmlessly
        assert crl.tbs_certlist_bytes == read_crl(der).tbs_certlist_bytes
        assert crl.signature == read_crl(der).signature


def _judge(
    pki: TestPki,
    *,
    revoked_at: datetime | None = None,
    at: datetime | None = None,
    kind: str = "ap",
    issuer: x509.Certificate | None = None,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    now: datetime | None = None,
    signing_kind: str | None = None,
) -> RevocationAnswer:
    now = now or datetime.now(UTC)
    leaf = pki.issue_ap_certificate("PSE000044", "Judged AB", "SE").certificate
    entries = [] if revoked_at is None else [(leaf.serial_number, revoked_at, None)]
    crl = pki.issue_crl(
        kind,
        entries,
        this_update=this_update or now - timedelta(minutes=1),
        next_update=next_update or now + timedelta(hours=1),
        signing_key=pki.ca_for(signing_kind).private_key if signing_kind else None,
    )
    return judge_crl(crl, leaf, issuer or pki.ap_ca, at or now, now=now)


def test_judge_good_and_revoked(pki: TestPki) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    good = _judge(pki)
    assert good.status is RevocationStatus.GOOD
    assert "not listed" in good.reason
    revoked = _judge(pki, revoked_at=now - timedelta(days=1))
    assert revoked.status is RevocationStatus.REVOKED
    assert "revoked on" in revoked.reason
    # revoked exactly at the lookup time counts; revoked after it does not (yet)
    assert _judge(pki, revoked_at=now, at=now).status is RevocationStatus.REVOKED
    later = _judge(pki, revoked_at=now, at=now - timedelta(days=2))
    assert later.status is RevocationStatus.GOOD
    assert "after the lookup time" in later.reason


def test_judge_refuses_crls_it_cannot_believe(pki: TestPki) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    day = timedelta(days=1)
    cases = {
        "another CA's CRL": _judge(pki, revoked_at=now - day, kind="smp"),
        "wrong key": _judge(pki, revoked_at=now - day, signing_kind="smp"),
        "asked with the wrong issuer": _judge(pki, revoked_at=now - day, issuer=pki.smp_ca),
        "out of date": _judge(
            pki, revoked_at=now - day, this_update=now - 3 * day, next_update=now - 2 * day
        ),
        "from the future": _judge(
            pki, revoked_at=now - day, this_update=now + day, next_update=now + 2 * day
        ),
    }
    for case, answer in cases.items():
        assert answer.status is RevocationStatus.UNKNOWN, case
        assert answer.reason, case
    assert "not signed by" in cases["wrong key"].reason
    assert "out of date" in cases["out of date"].reason
    # a CRL published a little late (within the grace) is still believed
    late = _judge(
        pki,
        revoked_at=now - day,
        this_update=now - timedelta(hours=1),
        next_update=now - timedelta(minutes=10),
    )
    assert late.status is RevocationStatus.REVOKED


def test_judge_refuses_a_delta_crl(pki: TestPki) -> None:
    now = datetime.now(UTC)
    ca = pki.ca_for("ap")
    leaf = pki.issue_ap_certificate("PSE000045", "Delta AB", "SE").certificate
    delta = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(hours=1))
        .add_extension(x509.DeltaCRLIndicator(1), critical=True)
        .sign(ca.private_key, hashes.SHA256())
    )
    answer = judge_crl(delta, leaf, pki.ap_ca, now, now=now)
    assert answer.status is RevocationStatus.UNKNOWN
    assert "delta CRL" in answer.reason


def test_crl_service_refuses_what_it_does_not_serve(net: Sandbox) -> None:
    def get(path: str, method: str = "GET") -> int:
        request = Request(method, path, {}, {}, b"", ("127.0.0.1", 1))
        return net.crls.handle(request).status

    assert get("/ap-ca.crl") == 200
    assert get("/root-ca.crl") == 404
    assert get("/ap-ca.crl", "POST") == 405
    with pytest.raises(SandboxError, match="unknown CRL flaw"):
        net.crls.set_flaw("ap", "melted")
    with pytest.raises(SandboxError, match="no CRL for"):
        net.crls.revoke("root", 1)
    with pytest.raises(SandboxError, match="no sandbox operator"):
        net.revoke("PXX999999")
    with pytest.raises(SandboxError, match="not 'ap'"):
        net.revoke(net.pki.issue_smp_certificate("PSE000001", "Operator A AB", "SE"), "ap")


# --- lookups over the sandbox ------------------------------------------------------------------


def test_good_certificates_pass_both_checks_with_one_download_per_ca(
    net: Sandbox, checker: CrlChecker
) -> None:
    before = requests(net)
    with Lookup(net.network, revocation=checker) as lk:
        result = lk.check(A)
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    names = [c.name for c in result.checks]
    assert names.index("smp-revocation") == names.index("smp-certificate") + 1
    assert names[-1] == "revocation"
    for name in ("smp-revocation", "revocation"):
        check = result.check(name)
        assert check is not None
        assert check.status is CheckStatus.PASS, str(result)
        assert "not revoked" in check.message
    assert new_requests(net, before) == {"smp": 1, "ap": 1}


def test_a_revoked_access_point_certificate_cannot_receive(
    net: Sandbox, checker: CrlChecker
) -> None:
    revoked = net.revoke("b", "ap")
    assert net.crls.is_revoked("ap", revoked.serial_number)
    with Lookup(net.network, revocation=checker) as lk:
        result = lk.check(B)
    assert result.verdict is Verdict.CANNOT_RECEIVE, str(result)
    failed = result.check("revocation")
    assert failed is not None
    assert failed.status is CheckStatus.FAIL
    assert "has been revoked" in result.reason
    assert "reason: the key was compromised (keyCompromise), on the CRL at http" in result.reason
    # in Swedish the whole sentence is Swedish; the RFC's name stays as the technical detail
    swedish = failed.text("sv")
    assert "nyckeln har röjts (keyCompromise)" in swedish
    assert "spärrlistan på http" in swedish
    assert "listed" not in swedish
    assert "reason" not in swedish
    # without a checker nothing changes: revocation is "not checked", the verdict as before
    with Lookup(net.network) as plain:
        unchecked = plain.check(B)
    assert unchecked.verdict is Verdict.CAN_RECEIVE
    skipped = unchecked.check("revocation")
    assert skipped is not None
    assert skipped.status is CheckStatus.SKIPPED
    assert unchecked.check("smp-revocation") is None


def test_a_revoked_smp_certificate_makes_the_answer_untrusted(
    net: Sandbox, checker: CrlChecker
) -> None:
    net.revoke("PSE000003", "smp")  # by Seat ID: operator c signs its SMP's answers
    with Lookup(net.network, revocation=checker) as lk:
        result = lk.check(C)
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert not result.retryable  # asking again gives the same revoked certificate
    failed = result.check("smp-revocation")
    assert failed is not None
    assert failed.status is CheckStatus.FAIL
    assert result.reason == failed.message
    assert "cannot be trusted" in result.reason
    assert result.check("revocation") is None  # nothing after an untrusted answer is judged


def test_crl_server_down_is_unknown_and_retryable(net: Sandbox) -> None:
    with (
        crl_faults(net, Faults(reset_share=1.0)),
        CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl,
    ):
        with Lookup(net.network, revocation=crl) as lk:
            result = lk.check(A)
        again = crl.answer(  # a failure is remembered, not asked again at once
            net.pki.issue_ap_certificate("PSE000001", "Operator A AB", "SE").certificate,
            net.pki.ap_ca,
            datetime.now(UTC),
        )
        downloads = crl.downloads
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert result.retryable
    failed = result.check("smp-revocation")
    assert failed is not None
    assert failed.status is CheckStatus.FAIL
    assert "could not be fetched" in failed.message
    # the reason is Swedish in a Swedish answer (it was joined into plain English text)
    assert "could not be fetched" not in failed.text("sv")
    assert again.status is RevocationStatus.UNKNOWN
    assert downloads == 2  # one per CA, the failure cached


def test_crl_server_down_with_soft_fail_only_warns(net: Sandbox) -> None:
    with (
        crl_faults(net, Faults(error_share=1.0)),
        CrlChecker(destinations=LOOPBACK_ALLOWED, soft_fail=True, timeout=2.0) as crl,
        Lookup(net.network, revocation=crl) as lk,
    ):
        result = lk.check(A)
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    for name in ("smp-revocation", "revocation"):
        check = result.check(name)
        assert check is not None
        assert check.status is CheckStatus.WARN, str(result)
        assert "HTTP 5" in check.message


def test_a_silent_crl_server_times_out_as_unknown(net: Sandbox) -> None:
    started = time.monotonic()
    with (
        crl_faults(net, Faults(timeout_share=1.0)),
        CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=0.3) as crl,
        Lookup(net.network, revocation=crl) as lk,
    ):
        result = lk.check(A)
    # the CRL's 0.3 s ends it, not the lookup's 10 s timeout
    assert time.monotonic() - started < 5.0
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert result.retryable
    assert "no answer within 0.3 s" in result.reason


@pytest.mark.parametrize(
    ("flaw", "words"),
    [
        ("wrong-key", "is not signed by"),
        ("expired", "is out of date"),
        ("garbage", "cannot be read"),
    ],
)
def test_a_crl_that_cannot_be_believed_is_unknown_never_revoked(
    net: Sandbox, checker: CrlChecker, flaw: str, words: str
) -> None:
    leaf = net.pki.issue_ap_certificate("PSE000046", "Flawed AB", "SE")
    net.revoke(leaf)  # really revoked - and still not reported so from a CRL we cannot believe
    with crl_flaw(net, "ap", flaw):
        answer = checker.answer(leaf.certificate, net.pki.ap_ca, datetime.now(UTC))
        with Lookup(net.network, revocation=checker) as lk:
            result = lk.check(A)
    assert answer.status is RevocationStatus.UNKNOWN
    assert words in answer.reason
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert result.retryable
    failed = result.check("revocation")
    assert failed is not None
    assert failed.status is CheckStatus.FAIL
    assert words in failed.message


def test_a_pem_crl_is_read_too(net: Sandbox, checker: CrlChecker) -> None:
    net.crls.pem = True
    try:
        with Lookup(net.network, revocation=checker) as lk:
            result = lk.check(A)
    finally:
        net.crls.pem = False
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)


def test_the_cache_is_kept_until_next_update_then_refetched(net: Sandbox) -> None:
    clock = _Clock()
    crl = CrlChecker(destinations=LOOPBACK_ALLOWED, clock=clock)
    before = requests(net)
    with crl, Lookup(net.network, revocation=crl) as lk:
        first = lk.check(A)
        second = lk.check(A)
        assert new_requests(net, before) == {"smp": 1, "ap": 1}  # the second asked nobody
        clock.offset = timedelta(seconds=net.crls.lifetime.total_seconds() + 60)
        third = lk.check(A)
    assert {first.verdict, second.verdict, third.verdict} == {Verdict.CAN_RECEIVE}
    assert new_requests(net, before) == {"smp": 2, "ap": 2}  # past nextUpdate: fetched again


def test_max_age_caps_the_cache(net: Sandbox) -> None:
    before = requests(net)
    with (
        CrlChecker(destinations=LOOPBACK_ALLOWED, max_age=0.0) as crl,
        Lookup(net.network, revocation=crl) as lk,
    ):
        lk.check(A)
        lk.check(A)
    assert new_requests(net, before) == {"smp": 2, "ap": 2}


def test_32_threads_at_once_make_one_download_per_crl(net: Sandbox, checker: CrlChecker) -> None:
    before = requests(net)
    # slow CRLs, so that all 32 lookups ask while the first download is still running
    with (
        crl_faults(net, Faults(latency=0.2)),
        Lookup(net.network, revocation=checker) as lk,
        concurrent.futures.ThreadPoolExecutor(32) as pool,
    ):
        results = list(pool.map(lambda _: lk.check(A), range(32)))
    assert {r.verdict for r in results} == {Verdict.CAN_RECEIVE}
    assert new_requests(net, before) == {"smp": 1, "ap": 1}
    assert checker.downloads == 2


async def test_32_async_lookups_at_once_make_one_download_per_crl(
    net: Sandbox, checker: CrlChecker
) -> None:
    before = requests(net)
    with crl_faults(net, Faults(latency=0.2)):
        # per_host=4: four TLS handshakes instead of 32 keep the test short; the SMP answers
        # still come back long before the first (slow) CRL download ends
        async with AsyncLookup(net.network, revocation=checker, per_host=4) as lk:
            results = await asyncio.gather(*(lk.check(A) for _ in range(32)))
    assert {r.verdict for r in results} == {Verdict.CAN_RECEIVE}
    assert new_requests(net, before) == {"smp": 1, "ap": 1}


async def test_the_event_loop_never_waits_for_a_crl(net: Sandbox, checker: CrlChecker) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    with crl_faults(net, Faults(latency=1.0)):
        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        async with AsyncLookup(net.network, revocation=checker) as lk:
            result = await lk.check(A)
        elapsed = time.monotonic() - started
        done.set()
        await ticking
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    assert elapsed >= 2.0  # two slow CRL downloads (1 s each) really happened ...
    # ... while the loop kept ticking every 10 ms: a loop blocked by a download would show a
    # gap of a whole second; half of that is a wide margin for a busy machine
    assert max(gaps) < 0.5


async def test_a_cancelled_lookup_does_not_strand_the_download(
    net: Sandbox, checker: CrlChecker
) -> None:
    with crl_faults(net, Faults(latency=0.25)):
        async with AsyncLookup(net.network, revocation=checker) as lk:
            first = asyncio.create_task(lk.check(A))
            second = asyncio.create_task(lk.check(A))
            await asyncio.sleep(0.1)  # both wait for the SMP CA's CRL now
            first.cancel()
            result = await asyncio.wait_for(second, 5.0)
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)


def test_check_many_passes_the_checker_to_its_own_engine(net: Sandbox) -> None:
    net.revoke("d", "ap")
    before = requests(net)
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        results = list(check_many([A, D, A], network=net.network, revocation=crl))
    verdicts = [r.verdict for r in results]
    assert verdicts == ["can-receive", "cannot-receive", "can-receive"]
    assert "revoked" in results[1].reason
    assert new_requests(net, before) == {"smp": 1, "ap": 1}
    with pytest.raises(InvalidInput, match="not to both"), Lookup(net.network) as lk:
        check_many([A], lk, revocation=CrlChecker(destinations=LOOPBACK_ALLOWED))


def test_check_many_with_a_lookup_of_ones_own(net: Sandbox, checker: CrlChecker) -> None:
    with Lookup(net.network, revocation=checker) as lk:
        results = list(check_many([A, D], lk, concurrency=2))
    assert [r.verdict for r in results] == ["can-receive", "cannot-receive"]


@pytest.fixture
def state_file(net: Sandbox, tmp_path: Path) -> Path:
    return write_state(net.info(), tmp_path / "state.json")


def _cli(*args: str, state: Path) -> list[str]:
    return [*args, "--network", "sandbox", "--state-file", str(state)]


def test_cli_lookup_check_revocation(
    net: Sandbox, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_cli("lookup", A, "--check-revocation", "--json", state=state_file)) == 0
    checks = {c["name"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["smp-revocation"] == "pass"
    assert checks["revocation"] == "pass"
    net.revoke("d", "ap")
    assert main(_cli("lookup", D, "--check-revocation", state=state_file)) == 1
    assert "has been revoked" in capsys.readouterr().out
    with crl_faults(net, Faults(reset_share=1.0)):
        assert main(_cli("lookup", A, "--check-revocation", "--json", state=state_file)) == 3
        unknown = json.loads(capsys.readouterr().out)
        assert main(_cli("lookup", A, "--revocation-soft-fail", "--json", state=state_file)) == 0
        soft = json.loads(capsys.readouterr().out)
    assert unknown["verdict"] == "unknown"
    assert unknown["retryable"] is True
    assert {c["name"]: c["status"] for c in soft["checks"]}["revocation"] == "warn"
    # without the flag: not checked, as before
    assert main(_cli("lookup", D, "--json", state=state_file)) == 0
    plain = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert "smp-revocation" not in plain
    assert plain["revocation"]["status"] == "skipped"


def test_cli_check_check_revocation(
    net: Sandbox, state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    net.revoke("d", "ap")
    register = tmp_path / "customers.csv"
    register.write_text(f"name,participant id\nA AB,{A}\nD AB,{D}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = main(
        _cli("check", str(register), "-o", str(out), "--check-revocation", state=state_file)
    )
    assert code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["verdict"] for r in rows] == ["can-receive", "cannot-receive"]
    assert "revoked" in rows[1]["reason"]
    capsys.readouterr()


# --- hostile and broken CRL servers (review 2) -------------------------------------------------

T = TypeVar("T")
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclasses.dataclass
class Web:
    """A tiny HTTP server on 127.0.0.1: ``routes`` maps a path to what writes the response."""

    base: str
    routes: dict[str, Route]
    seen: list[tuple[str, str]]  # (path, Accept-Encoding) of every request

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def web() -> Iterator[Web]:
    routes: dict[str, Route] = {}
    seen: list[tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Accept-Encoding", "")))
            route = routes.get(self.path, lambda h: _send(h, b"", status=404))
            with contextlib.suppress(ConnectionError):  # the checker may hang up first
                route(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Web(f"http://127.0.0.1:{server.server_address[1]}", routes, seen)
    finally:
        server.shutdown()
        server.server_close()


def _send(
    handler: http.server.BaseHTTPRequestHandler,
    body: bytes,
    *,
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _redirect(to: str, *, after: float = 0.0) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(after)
        _send(handler, b"", status=302, headers=(("Location", to),))

    return route


def _sound_crl(pki: TestPki) -> bytes:
    now = datetime.now(UTC)
    crl = pki.issue_crl(
        "ap", this_update=now - timedelta(minutes=1), next_update=now + timedelta(1)
    )
    return crl.public_bytes(serialization.Encoding.DER)


def _leaf_at(pki: TestPki, *urls: str) -> x509.Certificate:
    return _leaf_with_points(pki, [_point(*urls)])


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()`` in a daemon thread: a hang fails the test instead of stalling the suite."""
    out: list[T] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"still waiting after {seconds} s"
    return out[0]


class _Clock:
    """A clock the test moves on; ``broken`` makes it raise."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.broken = False

    def now(self) -> datetime:
        if self.broken:
            raise RuntimeError("the clock is broken")
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.total_seconds()


def test_a_clock_failing_mid_download_leaves_no_one_waiting(net: Sandbox) -> None:
    # The download settles its URL's slot however it ends; before, an exception the checker did
    # not expect left the slot claimed, and every later asker of the URL waited forever.
    leaf = net.pki.issue_ap_certificate("PSE000047", "Clock AB", "SE").certificate
    clock = _Clock()
    clock.broken = True
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0, clock=clock) as crl:
        first = crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
        clock.broken = False
        again = _within(5.0, lambda: crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC)))
        downloads = crl.downloads
    assert first.status is RevocationStatus.UNKNOWN
    assert "the clock is broken" in first.reason
    assert again.status is RevocationStatus.GOOD, again.reason
    assert downloads == 2  # the failure was due for retry at once


def test_ctrl_c_in_the_asker_strands_nobody(net: Sandbox) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches only the main thread")
    leaf = net.pki.issue_ap_certificate("PSE000048", "Interrupted AB", "SE").certificate
    main = threading.main_thread().ident
    assert main is not None
    with (
        crl_faults(net, Faults(latency=1.0)),
        CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=5.0) as crl,
    ):
        # a real Ctrl-C while the (slow) download runs: it can end no sooner than after 1 s
        interrupt = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
        interrupt.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
        finally:
            interrupt.join()
        after = _within(5.0, lambda: crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC)))
        downloads = crl.downloads
    assert after.status is RevocationStatus.GOOD, after.reason
    assert downloads == 1  # the interrupted asker's download went on and served the next one


def test_a_compressed_crl_is_refused_never_decoded(pki: TestPki, web: Web) -> None:
    # "gzip, gzip" turns 1.8 kB on the wire into gigabytes inside a decoder, before any size
    # check: the checker asks for identity and refuses any other coding, reading the raw body.
    der = _sound_crl(pki)
    web.routes["/plain.crl"] = lambda h: _send(h, der)
    web.routes["/gzip.crl"] = lambda h: _send(
        h, gzip.compress(der), headers=(("Content-Encoding", "gzip"),)
    )
    web.routes["/gzip-gzip.crl"] = lambda h: _send(
        h, gzip.compress(gzip.compress(der)), headers=(("Content-Encoding", "gzip, gzip"),)
    )
    now = datetime.now(UTC)
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        plain, single, double = (
            crl.answer(_leaf_at(pki, web.url(path)), pki.ap_ca, now)
            for path in ("/plain.crl", "/gzip.crl", "/gzip-gzip.crl")
        )
    assert plain.status is RevocationStatus.GOOD, plain.reason
    for answer in (single, double):
        assert answer.status is RevocationStatus.UNKNOWN
        assert "Content-Encoding" in answer.reason
    assert {encoding for _, encoding in web.seen} == {"identity"}


def _partition_crl(
    pki: TestPki, *names: str, user_certs_only: bool = False
) -> x509.CertificateRevocationList:
    """The AP CA's CRL for one partition: its Issuing Distribution Point names ``names``."""
    ca = pki.ca_for("ap")
    now = datetime.now(UTC)
    point = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(n) for n in names] or None,
        relative_name=None,
        only_contains_user_certs=user_certs_only,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(hours=1))
        .add_extension(point, critical=True)
        .sign(ca.private_key, hashes.SHA256())
    )


def test_a_crl_of_another_partition_is_not_believed(pki: TestPki, web: Web) -> None:
    # RFC 5280 6.3.3 (b)(2)(i): a CRL whose IDP names part1 says nothing about a part2 certificate
    part1, part2 = web.url("/part1.crl"), web.url("/part2.crl")
    leaf = _leaf_at(pki, part2)
    other, own = _partition_crl(pki, part1), _partition_crl(pki, part2)
    now = datetime.now(UTC)
    refused = judge_crl(other, leaf, pki.ap_ca, now, now=now)
    assert refused.status is RevocationStatus.UNKNOWN
    assert f"covers only the certificates of distribution point {part1}" in refused.reason
    assert judge_crl(own, leaf, pki.ap_ca, now, now=now).status is RevocationStatus.GOOD
    # a CRL only for end-entity certificates does not answer for a CA certificate
    users_only = _partition_crl(pki, user_certs_only=True)
    assert judge_crl(users_only, leaf, pki.ap_ca, now, now=now).status is RevocationStatus.GOOD
    ca_answer = judge_crl(users_only, pki.ap_ca, pki.ap_ca, now, now=now)
    assert ca_answer.status is RevocationStatus.UNKNOWN
    assert "only end-entity certificates" in ca_answer.reason
    # over HTTP: refused, and - like a failed download - asked again after retry_after (30 s),
    # not believed-to-be-useless until the CRL's own, unverified nextUpdate
    served = {"crl": other.public_bytes(serialization.Encoding.DER)}
    web.routes["/part2.crl"] = lambda h: _send(h, served["crl"])
    clock = _Clock()
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0, clock=clock) as crl:
        first = crl.answer(leaf, pki.ap_ca, now)
        served["crl"] = own.public_bytes(serialization.Encoding.DER)
        clock.offset = timedelta(seconds=31)
        later = crl.answer(leaf, pki.ap_ca, now)
    assert first.status is RevocationStatus.UNKNOWN
    assert "distribution point" in first.reason
    assert later.status is RevocationStatus.GOOD, later.reason


def test_timeout_bounds_the_whole_answer(pki: TestPki, web: Web) -> None:
    def silent(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(3.0)
        _send(handler, b"", status=500)

    der = _sound_crl(pki)

    def late_crl(handler: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(0.6)
        _send(handler, der)

    for n in range(4):
        web.routes[f"/silent{n}.crl"] = silent
    web.routes["/late.crl"] = late_crl
    web.routes["/redirect.crl"] = _redirect("/late.crl", after=0.6)
    now = datetime.now(UTC)
    # four distribution points share one deadline (it was 2 s each, one after the other)
    four = _leaf_at(pki, *(web.url(f"/silent{n}.crl") for n in range(4)))
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        started = time.monotonic()
        answer = crl.answer(four, pki.ap_ca, now)
        elapsed = time.monotonic() - started
    assert answer.status is RevocationStatus.UNKNOWN
    assert answer.reason.count("no answer within 2 s") == 4
    assert elapsed < 5.0  # two shared seconds; two each would take eight
    # the redirect hop gets only what is left: 0.6 s + 0.6 s is over a 1 s budget
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=1.0) as crl:
        started = time.monotonic()
        answer = crl.answer(_leaf_at(pki, web.url("/redirect.crl")), pki.ap_ca, now)
        elapsed = time.monotonic() - started
    assert answer.status is RevocationStatus.UNKNOWN, answer.reason
    # a fresh budget for the hop would have fetched the CRL (an answer, not UNKNOWN) at 1.2 s
    assert "no answer within 1 s" in answer.reason
    assert elapsed < 3.0  # the status above decides; this only shows nothing waited on


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_server_trickling_its_headers_cannot_hold_an_answer(
    pki: TestPki, web: Web, mode: str
) -> None:
    # httpx bounds each read, not the response: one header byte every 0.15 s never times out a
    # read, and held a 1 s answer for as long as the server liked (here 6 s)
    def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
        head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"." * 20 + b"\r\nContent-Length: 0\r\n\r\n"
        for byte in head:
            time.sleep(0.15)
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        handler.close_connection = True

    web.routes["/trickle.crl"] = trickle
    leaf = _leaf_at(pki, web.url("/trickle.crl"))
    now = datetime.now(UTC)
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=1.0) as crl:
        started = time.monotonic()
        if mode == "sync":
            answer = crl.answer(leaf, pki.ap_ca, now)
        else:
            answer = asyncio.run(crl.aanswer(leaf, pki.ap_ca, now))
        elapsed = time.monotonic() - started
    assert answer.status is RevocationStatus.UNKNOWN
    assert "no answer within 1 s" in answer.reason
    assert elapsed < 4.5  # the 1 s deadline ends it; the trickle lasts about 9 s


def test_a_failed_refresh_keeps_the_crl_still_current(net: Sandbox) -> None:
    leaf = net.pki.issue_ap_certificate("PSE000049", "Refresh AB", "SE").certificate
    clock = _Clock()

    def ask() -> RevocationAnswer:
        return crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))

    # max_age 60 s, while the sandbox CRL is good for 600 s: refreshes come before it is due
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0, max_age=60.0, clock=clock) as crl:
        first = ask()
        clock.offset = timedelta(seconds=61)
        with crl_faults(net, Faults(reset_share=1.0)):
            reset = ask()  # the refresh fails: the CRL in hand still answers
        clock.offset = timedelta(seconds=92)
        with crl_flaw(net, "ap", "wrong-key"):
            forged = ask()  # a refresh that cannot be believed fails the same way
        downloads = crl.downloads
        # once the CRL held is past its nextUpdate and the grace, a failed refresh is a failure
        clock.offset = net.crls.lifetime + timedelta(hours=1, seconds=60)
        with crl_faults(net, Faults(reset_share=1.0)):
            too_old = ask()
    assert [a.status for a in (first, reset, forged)] == [RevocationStatus.GOOD] * 3, reset.reason
    assert downloads == 3
    assert too_old.status is RevocationStatus.UNKNOWN
    assert "could not be fetched" in too_old.reason


def test_a_crl_that_cannot_be_believed_is_retried_like_a_failed_download(net: Sandbox) -> None:
    # before, a wrongly signed CRL was cached until its own nextUpdate (at most max_age, 1 h)
    leaf = net.pki.issue_ap_certificate("PSE000050", "Forged AB", "SE").certificate
    clock = _Clock()
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0, clock=clock) as crl:
        with crl_flaw(net, "ap", "wrong-key"):
            forged = crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
        clock.offset = timedelta(seconds=20)
        remembered = crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
        clock.offset = timedelta(seconds=31)
        sound = crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
        downloads = crl.downloads
    assert forged.status is RevocationStatus.UNKNOWN
    assert "is not signed by" in forged.reason
    assert remembered.reason == forged.reason  # not asked again within retry_after ...
    assert sound.status is RevocationStatus.GOOD, sound.reason  # ... and asked after it
    assert downloads == 2


def _tlv_items(data: bytes) -> list[bytes]:
    """The DER elements (tag, length, value) that follow one another in ``data``."""
    items, at = [], 0
    while at < len(data):
        length, start = data[at + 1], at + 2
        if length & 0x80:
            size = length & 0x7F
            length, start = int.from_bytes(data[start : start + size], "big"), start + size
        items.append(data[at : start + length])
        at = start + length
    return items


def _tlv_value(element: bytes) -> bytes:
    first = element[1]
    return element[2 + (first & 0x7F if first & 0x80 else 0) :]


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + value


def _without_next_update(pki: TestPki, this_update: datetime) -> x509.CertificateRevocationList:
    """The AP CA's CRL with no nextUpdate, properly signed.

    RFC 5280 lets a reader meet one (CAs MUST include it, parsers must cope); cryptography's
    builder insists on one, so the field is cut out of the DER and the rest signed again.
    """
    key = pki.ca_for("ap").private_key
    crl = pki.issue_crl("ap", this_update=this_update, next_update=this_update + timedelta(1))
    tbs, algorithm, _ = _tlv_items(_tlv_value(crl.public_bytes(serialization.Encoding.DER)))
    fields = _tlv_items(_tlv_value(tbs))
    # version, signature, issuer, thisUpdate, nextUpdate, extensions
    assert fields[4][0] in (0x17, 0x18)  # UTCTime / GeneralizedTime
    new_tbs = _tlv(0x30, b"".join(fields[:4] + fields[5:]))
    signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    return x509.load_der_x509_crl(_tlv(0x30, new_tbs + algorithm + _tlv(0x03, b"\0" + signature)))


def test_a_crl_without_next_update_is_due_max_age_after_issue(pki: TestPki, web: Web) -> None:
    now = datetime.now(UTC)
    leaf = _leaf_at(pki, web.url("/no-next-update.crl"))
    recent = _without_next_update(pki, now - timedelta(minutes=1))
    replayed = _without_next_update(pki, now - timedelta(days=1100))
    assert recent.next_update_utc is None
    assert recent.is_signature_valid(pki.ap_ca.public_key())  # type: ignore[arg-type]
    assert judge_crl(recent, leaf, pki.ap_ca, now, now=now).status is RevocationStatus.GOOD
    old = judge_crl(replayed, leaf, pki.ap_ca, now, now=now)
    assert old.status is RevocationStatus.UNKNOWN
    assert "names no next update" in old.reason
    # max_age + grace after issue it is out of date, and not a moment before
    edge = recent.last_update_utc + timedelta(hours=2)
    assert judge_crl(recent, leaf, pki.ap_ca, now, now=edge).status is RevocationStatus.GOOD
    later = edge + timedelta(seconds=1)
    assert judge_crl(recent, leaf, pki.ap_ca, now, now=later).status is RevocationStatus.UNKNOWN
    web.routes["/no-next-update.crl"] = lambda h: _send(
        h, replayed.public_bytes(serialization.Encoding.DER)
    )
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        over_http = crl.answer(leaf, pki.ap_ca, now)
    assert over_http.status is RevocationStatus.UNKNOWN
    assert "names no next update" in over_http.reason


def _with_duplicate(der: bytes, placeholder: bytes, real: bytes) -> x509.CertificateRevocationList:
    # the builder refuses a repeated extension: give a placeholder OID the real one's bytes
    assert der.count(placeholder) == 1
    return x509.load_der_x509_crl(der.replace(placeholder, real))


def test_judge_crl_answers_unknown_for_a_repeated_extension(pki: TestPki) -> None:
    ca = pki.ca_for("ap")
    now = datetime.now(UTC)
    leaf = pki.issue_ap_certificate("PSE000051", "Twice AB", "SE").certificate
    stand_in = x509.ObjectIdentifier("2.5.29.99")  # DER 06 03 55 1d 63
    base = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(hours=1))
    )
    twice_on_crl = (
        base.add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.UnrecognizedExtension(stand_in, b"\x02\x01\x02"), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.serial_number)
        .revocation_date(now - timedelta(hours=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .add_extension(x509.UnrecognizedExtension(stand_in, b"\x0a\x01\x01"), critical=False)
        .build()
    )
    twice_on_entry = base.add_revoked_certificate(entry).sign(ca.private_key, hashes.SHA256())
    placeholder = b"\x06\x03\x55\x1d\x63"
    cases = [
        _with_duplicate(
            twice_on_crl.public_bytes(serialization.Encoding.DER), placeholder, b"\x06\x03U\x1d\x14"
        ),
        _with_duplicate(
            twice_on_entry.public_bytes(serialization.Encoding.DER),
            placeholder,
            b"\x06\x03U\x1d\x15",
        ),
    ]
    for crl in cases:
        answer = judge_crl(crl, leaf, pki.ap_ca, now, now=now)
        assert answer.status is RevocationStatus.UNKNOWN
        assert "Duplicate" in answer.reason


def test_a_client_that_follows_redirects_still_gets_one_hop(pki: TestPki, web: Web) -> None:
    der = _sound_crl(pki)
    web.routes["/ca.crl"] = lambda h: _send(h, der)
    web.routes["/moved.crl"] = _redirect("/ca.crl")
    web.routes["/moved-twice.crl"] = _redirect("/moved.crl")
    now = datetime.now(UTC)
    with (
        httpx.Client(follow_redirects=True) as client,
        CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0, http_client=client) as crl,
    ):
        once = crl.answer(_leaf_at(pki, web.url("/moved.crl")), pki.ap_ca, now)
        twice = crl.answer(_leaf_at(pki, web.url("/moved-twice.crl")), pki.ap_ca, now)
    assert once.status is RevocationStatus.GOOD, once.reason
    assert twice.status is RevocationStatus.UNKNOWN
    assert "too many redirects" in twice.reason
