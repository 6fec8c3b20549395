"""``peppolnet doctor``: every check passes on a healthy sandbox, and each fails for real.

The sandbox's DNS server plays the poor resolvers (no NAPTR, a liar, no EDNS, no TCP, DNSSEC
records dropped or bogus), a sandbox on a skewed clock sends a skewed Date header, networks are
given G2 CAs or the retired EC zone, and the environment names proxies - then the finding, its
sentence, its fix and the exit code are checked. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from _ports import udp_and_tcp
from peppolnet.cli import main
from peppolnet.clock import ManualClock
from peppolnet.doctor import G2_END, Diagnosis, diagnose
from peppolnet.doctor.machine import proxies
from peppolnet.doctor.trust import trust_store
from peppolnet.doctor.zone import operator
from peppolnet.network import PRODUCTION, TEST, trust_anchor
from peppolnet.reachability import CheckStatus
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state

CHECKS = [
    "resolver-naptr",
    "resolver-nxdomain",
    "resolver-edns",
    "resolver-tcp",
    "resolver-dnssec",
    "sml-zone",
    "sml-operator",
    "trust-store",
    "tls-trust",
    "clock",
    "proxies",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's own sandbox: its tests make the DNS misbehave."""
    with Sandbox.start() as running:
        yield running


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, put right again after each test."""
    try:
        yield sandbox
    finally:
        sandbox.dns.set_lie(None)
        sandbox.dns.set_defects()
        sandbox.dns.set_dnssec("signed")


def finding(diagnosis: Diagnosis, name: str) -> tuple[CheckStatus, str, str | None]:
    found = diagnosis.finding(name)
    assert found is not None, name
    return found.status, found.message, found.fix


def run(sandbox: Sandbox, **options: object) -> Diagnosis:
    return diagnose(sandbox.network, environ={}, timeout=2.0, **options)  # type: ignore[arg-type]


def test_a_healthy_sandbox_passes_every_check(healthy: Sandbox) -> None:
    diagnosis = run(healthy)
    assert [f.name for f in diagnosis.findings] == CHECKS
    assert {f.name: f.status for f in diagnosis.findings} == dict.fromkeys(CHECKS, CheckStatus.PASS)
    assert diagnosis.ok
    assert all(f.fix is None for f in diagnosis.findings)
    assert diagnosis.summary() == "no problem found that affects lookups"
    assert diagnosis.summary("sv") == "inga problem hittades som påverkar uppslagningar"
    dnssec = diagnosis.finding("resolver-dnssec")
    assert dnssec is not None
    assert "--dnssec can be used" in dnssec.message
    data = diagnosis.to_json()
    assert data["ok"] is True
    assert data["zone"] == healthy.config.zone
    assert data["checks"][0] == {
        "name": "resolver-naptr",
        "status": "pass",
        "subject": "127.0.0.1",
        "message": "the resolver 127.0.0.1 answers NAPTR questions",
        "fix": None,
    }


@pytest.mark.parametrize(
    ("defect", "check", "status", "says", "fix"),
    [
        ("no-naptr", "resolver-naptr", CheckStatus.FAIL, "does not answer NAPTR", "forwards NAPTR"),
        ("no-edns", "resolver-edns", CheckStatus.WARN, "does not speak EDNS", "supports EDNS"),
        ("no-tcp", "resolver-tcp", CheckStatus.FAIL, "does not answer over TCP", "TCP port 53"),
    ],
)  # fmt: skip
def test_a_poor_resolver(
    healthy: Sandbox, defect: str, check: str, status: CheckStatus, says: str, fix: str
) -> None:
    healthy.dns.set_defects(defect)
    diagnosis = run(healthy)
    got, message, what = finding(diagnosis, check)
    assert got is status
    assert says in message
    assert what is not None
    assert fix in what
    if defect == "no-edns":  # without EDNS there is no DO bit, so no DNSSEC records either
        assert finding(diagnosis, "resolver-dnssec")[0] is CheckStatus.FAIL


def test_a_resolver_that_denies_everything(healthy: Sandbox) -> None:
    healthy.dns.set_lie("nxdomain")
    diagnosis = run(healthy)
    status, message, fix = finding(diagnosis, "resolver-nxdomain")
    assert status is CheckStatus.FAIL
    assert "says 'no such name' without showing the SML zone" in message
    assert "never 'not registered'" in message
    assert fix is not None
    assert "captive portals" in fix
    assert finding(diagnosis, "sml-zone")[0] is CheckStatus.FAIL
    assert not diagnosis.ok


def test_a_resolver_that_strips_the_authority_only_warns(healthy: Sandbox) -> None:
    healthy.dns.set_lie("strip-authority")
    status, message, _ = finding(run(healthy), "resolver-nxdomain")
    assert status is CheckStatus.WARN
    assert "costs one more question" in message


@pytest.mark.parametrize(
    ("mode", "status", "says"),
    [
        ("bogus", CheckStatus.FAIL, "do not validate: the SML's answer is bogus (DNSSEC)"),
        ("stripped", CheckStatus.FAIL, "may drop DNSSEC records"),
        ("unsigned", CheckStatus.PASS, "the SML zone is not signed"),
    ],
)
def test_dnssec_through_the_resolver(
    healthy: Sandbox, mode: str, status: CheckStatus, says: str
) -> None:
    healthy.dns.set_dnssec(mode)  # type: ignore[arg-type]
    got, message, fix = finding(run(healthy), "resolver-dnssec")
    assert got is status
    assert says in message
    assert (fix is not None) is (status is CheckStatus.FAIL)


def test_a_network_without_anchors_skips_dnssec(healthy: Sandbox) -> None:
    network = healthy.network.replace(dnssec_anchors=())
    found = diagnose(network, environ={}).finding("resolver-dnssec")
    assert found is not None
    assert found.status is CheckStatus.SKIPPED


def test_a_resolver_that_cannot_be_reached(healthy: Sandbox) -> None:
    nowhere = healthy.network.replace(dns_port=1)  # nothing listens there
    diagnosis = diagnose(nowhere, environ={}, timeout=1.0)
    for name in ("resolver-naptr", "resolver-nxdomain", "resolver-tcp", "sml-zone"):
        assert finding(diagnosis, name)[0] is CheckStatus.FAIL, name
    assert finding(diagnosis, "resolver-nxdomain")[1].startswith(
        "the resolver 127.0.0.1 could not be asked"
    )


@contextlib.contextmanager
def silent_resolver() -> Iterator[int]:
    """A DNS server on 127.0.0.1 that takes every question and answers none: a UDP socket
    nobody reads, and on the same port a TCP listener that never accepts (the kernel completes
    the connections; the queries sent on them wait). Yields its port."""
    with udp_and_tcp() as (port, _udp, tcp):
        tcp.listen(16)
        yield port


def test_checks_of_a_silent_resolver_wait_together(
    healthy: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Each check of a resolver that never answers waits its whole timeout; one after another
    they would cost a timeout each. Shown by order, not by the clock: the checks log when they
    start and end, and every check that waits on the resolver started before any of them
    ended - so they waited at the same time."""
    with silent_resolver() as port, caplog.at_level(logging.DEBUG, logger="peppolnet.doctor"):
        diagnosis = diagnose(healthy.network.replace(dns_port=port), environ={}, timeout=2.0)
    waiting = ("check resolver-", "check sml-zone")
    said = [r.getMessage() for r in caplog.records if r.name == "peppolnet.doctor"]
    said = [line for line in said if line.startswith(waiting)]
    started = [n for n, line in enumerate(said) if line.endswith(" started")]
    ended = [n for n, line in enumerate(said) if " ended: " in line]
    assert len(started) == len(ended) == 6, said
    assert max(started) < min(ended), said
    for name in (*CHECKS[:5], "sml-zone"):
        status, message, _fix = finding(diagnosis, name)
        assert status is CheckStatus.FAIL, name
        assert "(127.0.0.1: timed out)" in message, message
    assert [f.name for f in diagnosis.findings] == CHECKS  # in order, however they ran


def test_the_retired_ec_zone_warns(healthy: Sandbox) -> None:
    network = healthy.network.replace(sml_zone="edelivery.tech.ec.europa.eu")
    diagnosis = diagnose(network, environ={})
    status, message, fix = finding(diagnosis, "sml-operator")
    assert status is CheckStatus.WARN
    assert "a retired SML zone of the European Commission" in message
    assert fix is not None
    assert "participant.sml.prod.tech.peppol.org" in fix
    assert finding(diagnosis, "sml-zone")[0] is CheckStatus.FAIL  # the sandbox does not serve it
    test_zone = operator("acc.edelivery.tech.ec.europa.eu")
    assert test_zone.fix is not None
    assert "participant.sml.test.tech.peppol.org" in test_zone.fix


def test_the_openpeppol_zones_pass() -> None:
    assert "production SML zone" in operator(PRODUCTION.sml_zone).message
    assert "test SML zone" in operator(TEST.sml_zone).message


# --- the trust store, judged at the clock's "now" ------------------------------------------------


def test_the_built_in_networks_hold_g3_and_no_g2() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    for network in (PRODUCTION, TEST):
        found = trust_store(network, now)
        assert found.status is CheckStatus.PASS
        assert "Peppol G3 CAs" in found.message


def test_g2_warns_before_its_end_and_fails_after(healthy: Sandbox) -> None:
    with_g2 = healthy.network.replace(
        smp_ca=(*healthy.network.smp_ca, trust_anchor("g2-prod-smp-ca"))
    )
    before = diagnose(with_g2, environ={}, clock=ManualClock(G2_END - timedelta(days=30)))
    after = diagnose(with_g2, environ={}, clock=ManualClock(G2_END + timedelta(days=1)))
    status, message, _ = finding(before, "trust-store")
    assert status is CheckStatus.WARN
    assert "PEPPOL SERVICE METADATA PUBLISHER CA - G2" in message
    status, message, fix = finding(after, "trust-store")
    assert status is CheckStatus.FAIL
    assert "G2 stopped being valid on 2026-04-01" in message
    assert fix is not None
    assert not after.ok


def test_an_openpeppol_zone_without_g3_fails_and_expired_cas_fail() -> None:
    legacy = PRODUCTION.replace(smp_ca=(trust_anchor("g2-prod-smp-ca"),), ap_ca=())
    now = datetime(2026, 1, 1, tzinfo=UTC)  # G2 still valid: it is the missing G3 that fails
    found = trust_store(legacy.replace(smp_ca=()), now)
    assert found.status is CheckStatus.FAIL
    assert "lacks the Peppol G3 CAs" in found.message
    expired = trust_store(legacy, datetime(2029, 1, 1, tzinfo=UTC))
    assert expired.status is CheckStatus.FAIL
    assert "have expired" in expired.message


def test_an_unreadable_tls_bundle_fails(healthy: Sandbox, tmp_path: Path) -> None:
    network = healthy.network.replace(tls_verify=str(tmp_path / "missing.pem"))
    status, message, _ = finding(diagnose(network, environ={}), "tls-trust")
    assert status is CheckStatus.FAIL
    assert "cannot be read" in message


# --- the clock and the proxies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behind", "status"),
    [(timedelta(hours=2), CheckStatus.FAIL), (timedelta(minutes=3), CheckStatus.WARN)],
)
def test_a_skewed_date_header(behind: timedelta, status: CheckStatus) -> None:
    """A sandbox whose clock is behind sends that time in its Date headers (wide margins: the
    Date header has a resolution of one second, the machine may be slow)."""
    with Sandbox.start(clock=ManualClock(datetime.now(UTC) - behind)) as skewed:
        diagnosis = diagnose(skewed.network, environ={})
    got, message, fix = finding(diagnosis, "clock")
    assert got is status
    assert "s ahead of 127.0.0.1" in message
    assert fix is not None
    assert "NTP" in fix


def test_no_directory_no_clock_check(healthy: Sandbox) -> None:
    found = diagnose(healthy.network.replace(directory_url=None), environ={}).finding("clock")
    assert found is not None
    assert found.status is CheckStatus.SKIPPED


def test_proxies_in_the_environment(healthy: Sandbox) -> None:
    network = healthy.network
    none = proxies(network, {})
    assert none.status is CheckStatus.PASS
    used = proxies(
        network, {"HTTPS_PROXY": "http://anna:secret@proxy.example:3128", "no_proxy": "localhost"}
    )
    assert used.status is CheckStatus.WARN
    assert "HTTPS_PROXY=http://***@proxy.example:3128" in used.message
    assert "secret" not in used.message + used.subject
    assert "not for: localhost" in used.message
    assert "DNS questions do not" in used.message
    socks = proxies(network, {"ALL_PROXY": "socks5://proxy.example:1080"})
    assert socks.status is CheckStatus.FAIL
    assert socks.fix is not None
    assert "SOCKS is not supported" in socks.fix
    # the transport's reason inside the finding is in the reader's language too
    from peppolnet.i18n import render

    assert "is not an HTTP(S) proxy" in socks.message
    assert "is not an HTTP(S) proxy" not in render(socks.message, "sv")


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def state(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    path = write_state(sandbox.info(), tmp_path / "sandbox.json")
    return ["--network", "sandbox", "--state-file", str(path)]


def test_cli_doctor(
    healthy: Sandbox,
    state: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PEPPOLNET_LANG", "en")
    assert main(["doctor", *state]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"sandbox network, SML zone {healthy.config.zone}"
    for name in CHECKS:
        assert f"  {name}" in out
    assert out.rstrip().endswith("no problem found that affects lookups")
    healthy.dns.set_lie("nxdomain")
    assert main(["doctor", "--json", *state]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert {c["name"]: c["status"] for c in data["checks"]}["resolver-nxdomain"] == "fail"
    monkeypatch.setenv("PEPPOLNET_LANG", "sv")
    assert main(["doctor", *state]) == 1
    swedish = capsys.readouterr().out
    assert "åtgärd: använd en annan resolver" in swedish
    assert "problem hittades som påverkar uppslagningar" in swedish
