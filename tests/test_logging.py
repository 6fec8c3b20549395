"""What a lookup asked and decided is visible through the standard logging module.

Each DNS query, SML answer and cache hit, and every verdict, at DEBUG under ``peppolnet.*``;
faults at WARNING; nothing at INFO or above for a lookup that went well; no e-mail addresses.
"""

from __future__ import annotations

import logging
import re

import pytest

from peppolnet.lookup import Lookup
from peppolnet.reachability import Verdict
from peppolnet.sandbox import Sandbox


def _plain(sandbox: Sandbox) -> str:
    return str(next(p for p in sandbox.config.participants if p.in_sml and not p.quirks).id)


def test_a_lookup_tells_what_it_asked_and_decided(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    participant = _plain(sandbox)
    with caplog.at_level(logging.DEBUG, logger="peppolnet"), Lookup(sandbox.network) as lookup:
        first = lookup.check(participant)
        second = lookup.check(participant)
    assert first.verdict is second.verdict is Verdict.CAN_RECEIVE
    by_logger: dict[str, list[str]] = {}
    for record in caplog.records:
        by_logger.setdefault(record.name, []).append(record.getMessage())
    assert any("NAPTR" in m and "NOERROR" in m for m in by_logger["peppolnet.dns"])
    assert any("-> https://127.0.0.1:" in m and "TTL" in m for m in by_logger["peppolnet.sml"])
    assert any("SML cache hit" in m for m in by_logger["peppolnet.sml"])  # the second lookup
    verdicts = [m for m in by_logger["peppolnet.lookup"] if "can-receive" in m]
    assert len(verdicts) == 2
    assert all(r.levelno < logging.INFO for r in caplog.records)  # quiet at INFO by default
    email = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    assert not [r.getMessage() for r in caplog.records if email.search(r.getMessage())]


def test_a_fault_is_a_warning(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    participant = _plain(sandbox)
    sandbox.dns.set_fault(None, "silence")
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="peppolnet"),
            Lookup(sandbox.network, timeout=0.5) as lookup,
        ):
            result = lookup.check(participant)
    finally:
        sandbox.dns.set_fault(None, None)
    assert result.verdict is Verdict.UNKNOWN
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.name for r in warnings] == ["peppolnet.lookup"]
    assert "unknown" in warnings[0].getMessage()
    assert any("no reply from 127.0.0.1" in r.getMessage() for r in caplog.records)


def test_an_untrusted_denial_is_a_warning_of_the_resolver(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.dns.set_lie("nxdomain")
    try:
        with (
            caplog.at_level(logging.WARNING, logger="peppolnet"),
            Lookup(sandbox.network) as lookup,
        ):
            result = lookup.check(_plain(sandbox))
    finally:
        sandbox.dns.set_lie(None)
    assert result.verdict is Verdict.UNKNOWN
    assert any(
        r.name == "peppolnet.sml" and "cannot be trusted" in r.getMessage() for r in caplog.records
    )


def test_nothing_reaches_stderr_unless_the_application_asks(sandbox: Sandbox) -> None:
    """Without a logging configuration, Python's last-resort handler would print every
    warning (each unknown verdict) to stderr; the package logger keeps quiet instead. The child
    asks the silenced sandbox DNS server of this process."""
    import subprocess
    import sys

    net = sandbox.network
    script = (
        "from peppolnet.lookup import Lookup\n"
        "from peppolnet.network import Network\n"
        f"net = Network(name='sandbox', sml_zone={net.sml_zone!r}, smp_ca=(), ap_ca=(),\n"
        f"    directory_url=None, nameservers=('127.0.0.1',), dns_port={net.dns_port})\n"
        "print(Lookup(net, timeout=0.3).check('0007:5584821341').verdict.value)\n"
    )
    sandbox.dns.set_fault(None, "silence")
    try:
        child = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
    finally:
        sandbox.dns.set_fault(None, None)
    assert child.stdout.strip() == "unknown"
    assert child.stderr == ""
