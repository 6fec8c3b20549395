"""What a lookup asked and decided is visible through the standard logging module.

Each DNS query, SML answer and cache hit, each HTTP fetch, retry and CRL cache hit, and every
verdict, at DEBUG under ``peppolnet.*``; faults at WARNING; nothing at INFO or above for a lookup
that went well; no e-mail addresses, credentials or query strings.
"""

from __future__ import annotations

import logging
import re
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet import _http
from peppolnet.directory import DirectoryClient
from peppolnet.lookup import Lookup, RetryPolicy
from peppolnet.reachability import Verdict
from peppolnet.revocation import CrlChecker
from peppolnet.sandbox import Faults, Sandbox
from peppolnet.sandbox.http import HttpServer


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


# --- the HTTP layer: each fetch, retry and cache hit; faults at WARNING ----------------------


def _smp_of(sandbox: Sandbox, participant: str) -> HttpServer:
    config = next(p for p in sandbox.config.participants if str(p.id) == participant)
    return sandbox.smps[sandbox.config.operator(config.operator).smp]


_FETCH = re.compile(r"^127\.0\.0\.1:\d+/\S+ -> HTTP (\d{3}), (\d+) bytes, \d+\.\d ms$")


def test_each_fetch_is_logged_with_host_path_status_size_and_time(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    participant = _plain(sandbox)
    with (
        caplog.at_level(logging.DEBUG, logger="peppolnet"),
        CrlChecker() as crl,
        Lookup(sandbox.network, revocation=crl) as lookup,
    ):
        first = lookup.check(participant)
        second = lookup.check(participant)
    assert first.verdict is second.verdict is Verdict.CAN_RECEIVE
    http = [r for r in caplog.records if r.name == "peppolnet.http"]
    fetches = [m for r in http if (m := _FETCH.match(r.getMessage()))]
    # two ServiceMetadata GETs, and the CRLs of the SMP and the access point once each
    assert len(fetches) == 4
    assert all(m.group(1) == "200" and int(m.group(2)) > 0 for m in fetches)
    assert all(r.levelno == logging.DEBUG for r in http)
    # the second lookup found both CRLs in the cache
    assert sum("the CRL from the cache" in r.getMessage() for r in http) == 2
    assert not [r.getMessage() for r in http if "https://" in r.getMessage()]  # host+path only


def test_retries_are_logged_and_faults_are_warnings(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    participant = _plain(sandbox)
    server = _smp_of(sandbox, participant)
    server.faults = Faults(error_share=1.0)
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="peppolnet.http"),
            Lookup(sandbox.network, retry=RetryPolicy(backoff=0.01)) as lookup,
        ):
            result = lookup.check(participant)
    finally:
        server.faults = Faults()
    assert result.verdict is Verdict.UNKNOWN
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "peppolnet.http"]
    faults = [m for level, m in messages if level == logging.WARNING]
    assert len(faults) == 3
    assert all(re.search(r" -> HTTP 50[03], \d+ bytes", m) for m in faults)
    retries = [m for level, m in messages if level == logging.DEBUG and ": try " in m]
    assert [re.sub(r".*: (try \d of \d) in \d\.\d\d s after (HTTP 50)\d$", r"\1 \2", m)
            for m in retries] == ["try 2 of 3 HTTP 50", "try 3 of 3 HTTP 50"]  # fmt: skip
    (gave_up,) = [m for level, m in messages if "no retry" in m]
    assert gave_up.endswith("all 3 tries are used")


def test_a_dns_retry_is_logged_by_the_lookup(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    participant = _plain(sandbox)
    sandbox.dns.set_fault(participant, "servfail")
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="peppolnet.lookup"),
            Lookup(sandbox.network, retry=RetryPolicy(attempts=2, backoff=0.01)) as lookup,
        ):
            assert lookup.check(participant).verdict is Verdict.UNKNOWN
    finally:
        sandbox.dns.set_fault(participant, None)
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        re.search(r"SML question for \S+: try 2 of 2 in 0\.\d\d s after", m) for m in messages
    )
    assert any("no retry after try 2" in m and "all 2 tries are used" in m for m in messages)


def test_a_directory_search_logs_no_query(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """A search names people and companies; the log shows the endpoint, never the query."""
    with (
        caplog.at_level(logging.DEBUG, logger="peppolnet"),
        DirectoryClient.for_network(sandbox.network, rate_limit=None) as client,
    ):
        client.search(name="Nordlys Bygg", country="SE")
    (fetch,) = [r.getMessage() for r in caplog.records if r.name == "peppolnet.http"]
    assert re.match(r"127\.0\.0\.1:\d+/search/1\.0/json -> HTTP 200", fetch)
    assert "Nordlys" not in fetch
    assert "?" not in fetch


_EMAIL = st.from_regex(r"[a-z][a-z0-9.+-]{0,10}@[a-z][a-z0-9-]{0,10}\.[a-z]{2,4}", fullmatch=True)
_SEGMENT = st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True)


@given(
    email=_EMAIL,
    before=st.lists(_SEGMENT, max_size=3),
    encoded=st.booleans(),
    query=st.text(max_size=20),
)
def test_a_shown_url_has_no_email_query_or_credentials(
    email: str, before: list[str], encoded: bool, query: str
) -> None:
    address = email.replace("@", "%40") if encoded else email
    path = "/".join(["", *before, address])
    url = f"https://user:secret@smp.example:8443{path}?q={urllib.parse.quote(query)}&who={email}"
    shown = _http.shown(url)
    # host and path only; the address, plain or percent-encoded, masked
    assert shown == "smp.example:8443" + "/".join(["", *before, "***"])
