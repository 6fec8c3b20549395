"""CRL revocation checking: the pure CRL judgement, and lookups over the sandbox's real CRL server.

The sandbox serves its SMP CA's and AP CA's CRLs over HTTP on 127.0.0.1 and names them in every
certificate it issues; ``Sandbox.revoke`` lists a certificate on them at run time. Nothing here is
mocked: a "server down" is the server resetting connections, a "wrong key" is a CRL really signed
by another CA's key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.bulk import check_many
from peppolnet.cli import main
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
NETWORK = "\n".join(
    f"""
[[operators]]
id = "{op}"
name = "Operator {op.upper()} AB"
seat_id = "PSE00000{n}"
country = "SE"
smp = "{op}-smp"
ap_url = "https://ap.{op}.test/as4"

[[smps]]
id = "{op}-smp"
operator = "{op}"

[[participants]]
id = "{pid}"
name = "Customer {op.upper()} AB"
country = "SE"
operator = "{op}"
"""
    for n, (op, pid) in enumerate(
        [
            ("a", "0007:5567321707"),
            ("b", "0007:5560000001"),
            ("c", "0007:5560000019"),
            ("d", "0007:5560000027"),
        ],
        start=1,
    )
)
A, B, C, D = "0007:5567321707", "0007:5560000001", "0007:5560000019", "0007:5560000027"


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start(parse_config(NETWORK)) as running:
        yield running


@pytest.fixture
def checker() -> Iterator[CrlChecker]:
    with CrlChecker(timeout=2.0) as crl:
        yield crl


@contextlib.contextmanager
def crl_faults(net: Sandbox, faults: Faults) -> Iterator[None]:
    assert net.crl_server is not None
    net.crl_server.faults = faults
    try:
        yield
    finally:
        net.crl_server.faults = Faults()


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
    assert "key_compromise" in result.reason
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
    with crl_faults(net, Faults(reset_share=1.0)), CrlChecker(timeout=2.0) as crl:
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
    assert again.status is RevocationStatus.UNKNOWN
    assert downloads == 2  # one per CA, the failure cached


def test_crl_server_down_with_soft_fail_only_warns(net: Sandbox) -> None:
    with (
        crl_faults(net, Faults(error_share=1.0)),
        CrlChecker(soft_fail=True, timeout=2.0) as crl,
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
        CrlChecker(timeout=0.3) as crl,
        Lookup(net.network, revocation=crl) as lk,
    ):
        result = lk.check(A)
    assert time.monotonic() - started < 3.0
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
    offset = [timedelta(0)]
    crl = CrlChecker(clock=lambda: datetime.now(UTC) + offset[0])
    before = requests(net)
    with crl, Lookup(net.network, revocation=crl) as lk:
        first = lk.check(A)
        second = lk.check(A)
        assert new_requests(net, before) == {"smp": 1, "ap": 1}  # the second asked nobody
        offset[0] = timedelta(seconds=net.crls.lifetime.total_seconds() + 60)
        third = lk.check(A)
    assert {first.verdict, second.verdict, third.verdict} == {Verdict.CAN_RECEIVE}
    assert new_requests(net, before) == {"smp": 2, "ap": 2}  # past nextUpdate: fetched again


def test_max_age_caps_the_cache(net: Sandbox) -> None:
    before = requests(net)
    with CrlChecker(max_age=0.0) as crl, Lookup(net.network, revocation=crl) as lk:
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

    with crl_faults(net, Faults(latency=0.4)):
        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        async with AsyncLookup(net.network, revocation=checker) as lk:
            result = await lk.check(A)
        elapsed = time.monotonic() - started
        done.set()
        await ticking
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    assert elapsed >= 0.8  # two slow CRL downloads really happened ...
    assert max(gaps) < 0.25  # ... while the loop kept ticking every 10 ms


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
    with CrlChecker(timeout=2.0) as crl:
        results = list(check_many([A, D, A], network=net.network, revocation=crl))
    verdicts = [r.verdict for r in results]
    assert verdicts == ["can-receive", "cannot-receive", "can-receive"]
    assert "revoked" in results[1].reason
    assert new_requests(net, before) == {"smp": 1, "ap": 1}
    with pytest.raises(InvalidInput, match="not to both"), Lookup(net.network) as lk:
        check_many([A], lk, revocation=CrlChecker())


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
