"""Each step of a trace made to fail in turn on the sandbox, over real sockets: the step that
failed, the sentence it ends with, and the exit code of ``peppolnet trace``.

A lying resolver, a participant without a NAPTR record (and one whose record names no SMP), an
SMP whose TLS certificate names another host, an SMP answering 500, a bad signature, an expired
access point certificate, a deadline that passes during DNS. This module has a sandbox of its
own: its tests make the DNS lie and point participants elsewhere, which no other module may see.
(DNSSEC bogus needs a validator: the ``dnssec`` step is shown where one reports, see the last
test.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from _participants import plain, quirky
from peppolnet import _observe
from peppolnet.cli import main
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import Lookup
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.http import HttpServer
from peppolnet.sandbox.state import write_state
from peppolnet.sml import SmlAnswer, SmlResolver
from peppolnet.trace import Trace, TraceStep

UNREGISTERED = ParticipantId.parse("0007:5560000001")


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def state(net: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(net.info(), tmp_path_factory.mktemp("trace") / "sandbox.json")


def _trace(net: Sandbox, pid: ParticipantId, **options: float) -> Trace:
    with Lookup(net.network, **options) as lookup:  # type: ignore[arg-type]
        return lookup.trace(pid)


def _ends_at(trace: Trace, name: str) -> TraceStep:
    """Check that the trace stopped at the step ``name`` with the verdict's own sentence."""
    failed = trace.failed
    assert failed is not None, [str(s) for s in trace.steps]
    assert failed.name == name, [str(s) for s in trace.steps]
    assert failed.status is CheckStatus.FAIL
    assert failed.message == trace.reachability.reason
    assert trace.steps[-1].name == "verdict"
    assert trace.steps[-2] is failed  # nothing after the failed step but the verdict
    return failed


def _stops(
    net: Sandbox,
    state: Path,
    capsys: pytest.CaptureFixture[str],
    pid: ParticipantId,
    name: str,
    code: int,
    *,
    retryable: bool,
) -> tuple[Trace, TraceStep]:
    """Trace ``pid``: it stops at the step ``name`` (``retryable`` or not), and ``peppolnet
    trace --json`` exits with ``code`` naming that step."""
    trace = _trace(net, pid)
    failed = _ends_at(trace, name)
    assert failed.retryable is retryable
    assert (
        main(["trace", pid.bare, "--json", "--network", "sandbox", "--state-file", str(state)])
        == code
    )
    assert json.loads(capsys.readouterr().out)["failed_step"] == name
    return trace, failed


@pytest.fixture
def lying(net: Sandbox) -> Iterator[Sandbox]:
    """The sandbox's DNS denying every name without an authority section; honest afterwards."""
    net.dns.set_lie("nxdomain")
    try:
        yield net
    finally:
        net.dns.set_lie(None)


def test_a_lying_resolver(lying: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, dns = _stops(lying, state, capsys, plain(lying), "dns", 3, retryable=True)
    assert "cannot be trusted as 'not registered'" in dns.message
    assert trace.reachability.verdict is Verdict.UNKNOWN
    # the denial, and the probe of the zone that could not show the zone's SOA
    types = [(q["type"], q["rcode"]) for q in dns.details["queries"]]
    assert ("NAPTR", "NXDOMAIN") in types
    assert ("SOA", "NXDOMAIN") in types
    assert dns.details["zone_probe"]["rcode"] == "NXDOMAIN"
    assert dns.details["answer"]["authority_soa"] is None


def test_no_naptr_record(net: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, dns = _stops(net, state, capsys, UNREGISTERED, "dns", 1, retryable=False)
    assert dns.message == "no Peppol registration was found for 0007:5560000001"
    # believed because the denial carries the zone's SOA
    assert dns.details["answer"]["rcode"] == "NXDOMAIN"
    assert dns.details["answer"]["authority_soa"]["zone"] == net.config.zone
    assert trace.reachability.verdict is Verdict.NOT_REGISTERED


def test_a_naptr_record_without_an_smp(
    net: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, url = _stops(
        net, state, capsys, quirky(net, "no-meta-smp"), "smp-url", 1, retryable=False
    )
    assert "none for the Meta:SMP service" in url.message
    assert trace.step("dns").status is CheckStatus.PASS  # type: ignore[union-attr]
    assert '"Meta:LOCATOR"' in url.details["records"][0]


@pytest.fixture
def wrong_tls_name(net: Sandbox, tmp_path: Path) -> Iterator[ParticipantId]:
    """A participant whose SML record points to its SMP served with a TLS certificate for
    another host name (the sandbox's own PKI issued it, so only the name is wrong)."""
    pid = plain(net)
    issued = net.pki.issue_tls_certificate(("smp.wrong-name.invalid",))
    cert, key = tmp_path / "wrong.pem", tmp_path / "wrong.key"
    cert.write_bytes(issued.certificate_pem())
    key.write_bytes(issued.private_key_pem())
    service = net.services[net.config.operator(net.participants[pid].operator).smp]
    server = HttpServer(service.handle, tls=(cert, key), name="wrong-name").start()
    net.dns.add_participant(pid, server.base_url)
    try:
        yield pid
    finally:
        net.dns.add_participant(pid, service.base_url)
        server.stop()


def test_a_tls_name_mismatch(
    net: Sandbox, wrong_tls_name: ParticipantId, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, tls = _stops(net, state, capsys, wrong_tls_name, "tls", 3, retryable=True)
    assert "cannot connect to the SMP" in tls.message
    assert "mismatch" in tls.details["failure"]
    assert tls.details["trust_store"]["path"] == str(net.tls_ca_path)
    # every try met the same certificate: the earlier ones only warn
    tries = [s for s in trace.steps if s.name == "tls"]
    assert [s.status for s in tries] == [CheckStatus.WARN] * (len(tries) - 1) + [CheckStatus.FAIL]
    assert trace.step("http") is None  # no request was ever sent


def test_an_smp_answering_500(
    net: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace, failed = _stops(net, state, capsys, quirky(net, "smp-500"), "http", 3, retryable=True)
    assert "answered HTTP 500" in failed.message
    requests = [s for s in trace.steps if s.name == "http"]
    assert [s.details["status"] for s in requests] == [500] * 3  # the lookup's retry budget
    assert [s.status for s in requests] == [CheckStatus.WARN] * 2 + [CheckStatus.FAIL]
    assert all(s.details["retried_after_s"] for s in requests[:2])


def test_a_bad_signature(net: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, signature = _stops(
        net, state, capsys, quirky(net, "bad-signature"), "signature", 3, retryable=False
    )
    assert signature.message.startswith("the SMP answer's signature does not verify")
    assert signature.details["valid"] is False
    assert trace.step("smp-certificate") is None


def test_an_expired_ap_certificate(
    net: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = quirky(net, "expired-ap-certificate")
    trace, ap = _stops(net, state, capsys, pid, "ap-certificate", 1, retryable=False)
    assert "expired" in ap.message
    assert ap.details["certificate"]["not_after"] < trace.reachability.at.isoformat()
    assert trace.reachability.verdict is Verdict.CANNOT_RECEIVE


def test_a_deadline_that_passes_during_dns(net: Sandbox) -> None:
    net.dns.set_latency(1.0)
    try:
        trace = _trace(net, plain(net), deadline=0.3)
    finally:
        net.dns.set_latency(0.0)
    dns = _ends_at(trace, "dns")
    assert "deadline (0.3 s) passed while asking the SML" in dns.message
    assert dns.retryable


class _Validating(SmlResolver):
    """A resolver that reports a DNSSEC result for its answers, as a validator would."""

    status = "secure"

    def resolve(self, participant: ParticipantId | str, **options: object) -> SmlAnswer:
        answer = super().resolve(participant, **options)  # type: ignore[arg-type]
        observer = _observe.current()
        if observer is not None:
            observer.dnssec(answer.record_name, self.status, f"the answer is {self.status}")
        return answer


@pytest.mark.parametrize(("status", "shown"), [("secure", "pass"), ("bogus", "fail")])
def test_the_dnssec_hook(net: Sandbox, status: str, shown: str) -> None:
    resolver = _Validating.for_network(net.network, require_https=False)
    resolver.status = status
    with Lookup(net.network, resolver=resolver) as lookup:
        trace = lookup.trace(plain(net))
    dnssec = trace.step("dnssec")
    assert dnssec is not None
    assert (dnssec.status.value, dnssec.message) == (shown, f"the answer is {status}")
    names = [s.name for s in trace.steps]
    assert names.index("dns") + 1 == names.index("dnssec")
