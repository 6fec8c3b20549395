"""CRL downloads as trace steps, on the sandbox with revocation checking on.

The sandbox's CRL server (on 127.0.0.1) serves its SMP CA's and AP CA's lists; its faults
(connections reset, 5xx answers) are real ones, and ``Sandbox.revoke`` lists a certificate at run
time. Each test has a checker of its own, so what one downloads is not another's cache.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from _networks import crl_faults, operators_network
from peppolnet.cli import main
from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.revocation import CrlChecker
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.http import Faults
from peppolnet.sandbox.state import write_state
from peppolnet.trace import Trace

# "a" stays good; "b" has its access point certificate revoked by one test
GOOD, REVOKED = "0007:5567321707", "0007:5560000001"


@pytest.fixture
def checker() -> Iterator[CrlChecker]:
    """A checker of the test's own: what one test downloads is not another's cache."""
    with CrlChecker(destinations=LOOPBACK_ALLOWED, timeout=2.0) as crl:
        yield crl


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start(parse_config(operators_network([(GOOD, "a"), (REVOKED, "b")]))) as net:
        yield net


def names(trace: Trace) -> list[str]:
    return [step.name for step in trace.steps]


def crls(trace: Trace) -> list[dict[str, object]]:
    return [dict(step.details) for step in trace.steps if step.name == "crl"]


def test_each_crl_is_a_step_before_the_certificate_it_serves(
    net: Sandbox, checker: CrlChecker
) -> None:
    with Lookup(net.network, revocation=checker) as lookup:
        trace = lookup.trace(GOOD)
    assert trace.reachability.verdict is Verdict.CAN_RECEIVE, str(trace)
    order = names(trace)
    assert order[order.index("signature") :] == [
        "signature",
        "crl",
        "smp-certificate",
        "endpoint",
        "crl",
        "ap-certificate",
        "verdict",
    ]
    smp, ap = crls(trace)
    assert (smp["certificate"], ap["certificate"]) == ("smp", "ap")
    assert (smp["path"], ap["path"]) == ("/smp-ca.crl", "/ap-ca.crl")
    for row in (smp, ap):
        assert row["host"] == "127.0.0.1"
        assert row["from_cache"] is False
        assert row["status"] == 200
        assert isinstance(row["body_bytes"], int)
        assert row["body_bytes"] > 0
        assert row["problem"] is None
    steps = [step for step in trace.steps if step.name == "crl"]
    assert all(step.status is CheckStatus.PASS for step in steps)
    assert all(step.elapsed is not None for step in steps)
    assert "downloaded the CRL at http://127.0.0.1:" in str(steps[0].message)
    # the certificate step keeps the answer, with the same download under it
    revocation = trace.step("smp-certificate").details["revocation"]  # type: ignore[union-attr]
    assert revocation[0]["status"] == "good"
    assert revocation[0]["downloads"] == [{k: v for k, v in smp.items() if k != "certificate"}]
    assert checker.downloads == 2


def test_a_crl_held_already_is_a_step_from_the_cache(net: Sandbox, checker: CrlChecker) -> None:
    with Lookup(net.network, revocation=checker) as lookup:
        lookup.check(GOOD)
        trace = lookup.trace(GOOD)
    assert checker.downloads == 2  # nothing downloaded for the trace
    rows = crls(trace)
    assert [row["from_cache"] for row in rows] == [True, True]
    assert [row["status"] for row in rows] == [None, None]
    assert "from the cache" in str(trace)
    # in Swedish too
    assert "från cachen" in "\n".join(trace_lines(trace, "sv"))


def trace_lines(trace: Trace, language: str) -> list[str]:
    from peppolnet.trace.render import lines

    return lines(trace, language)


def test_a_crl_server_that_resets_stops_the_trace_at_the_crl(
    net: Sandbox, checker: CrlChecker
) -> None:
    with crl_faults(net, Faults(reset_share=1.0)), Lookup(net.network, revocation=checker) as lk:
        trace = lk.trace(GOOD)
    assert trace.reachability.verdict is Verdict.UNKNOWN
    failed = trace.failed
    assert failed is not None
    assert failed.name == "crl"
    assert failed.retryable
    assert failed.details["certificate"] == "smp"
    assert failed.details["status"] is None
    assert "could not be fetched" in str(failed.details["problem"])
    # the fault's sentence, and only the verdict after it
    assert failed.message == trace.reachability.reason
    assert names(trace)[-2:] == ["crl", "verdict"]
    data = trace.to_json()
    assert (data["failed_step"], data["verdict"], data["retryable"]) == ("crl", "unknown", True)


def test_with_soft_fail_a_failed_crl_only_warns(net: Sandbox) -> None:
    with (
        crl_faults(net, Faults(error_share=1.0)),
        CrlChecker(destinations=LOOPBACK_ALLOWED, soft_fail=True, timeout=2.0) as crl,
        Lookup(net.network, revocation=crl) as lookup,
    ):
        trace = lookup.trace(GOOD)
    assert trace.reachability.verdict is Verdict.CAN_RECEIVE, str(trace)
    steps = [step for step in trace.steps if step.name == "crl"]
    assert [step.status for step in steps] == [CheckStatus.WARN, CheckStatus.WARN]
    assert all("HTTP 5" in str(step.message) for step in steps)
    assert trace.failed is None


def test_a_revoked_certificate_fails_its_certificate_step_not_the_crl(
    net: Sandbox, checker: CrlChecker
) -> None:
    net.revoke("b", "ap")
    with Lookup(net.network, revocation=checker) as lookup:
        trace = lookup.trace(REVOKED)
    assert trace.reachability.verdict is Verdict.CANNOT_RECEIVE
    failed = trace.failed
    assert failed is not None
    assert failed.name == "ap-certificate"
    assert "has been revoked" in str(failed.message)
    ap = [step for step in trace.steps if step.name == "crl"][-1]
    assert ap.status is CheckStatus.PASS
    assert ap.details["certificate"] == "ap"


def test_the_async_twin_shows_the_crls(net: Sandbox, checker: CrlChecker) -> None:
    async def traced() -> Trace:
        async with AsyncLookup(net.network, revocation=checker) as lookup:
            return await lookup.trace(GOOD)

    trace = asyncio.run(traced())
    rows = crls(trace)
    assert [row["certificate"] for row in rows] == ["smp", "ap"]
    assert all(row["status"] == 200 for row in rows)


def test_cli_trace_with_revocation(
    net: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = write_state(net.info(), tmp_path / "state.json")
    argv = ["trace", GOOD, "--check-revocation", "--network", "sandbox", "--state-file"]
    assert main([*argv, str(state), "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert [s["details"]["certificate"] for s in steps if s["name"] == "crl"] == ["smp", "ap"]
    with crl_faults(net, Faults(reset_share=1.0)):
        assert main([*argv, str(state)]) == 3
    out = capsys.readouterr().out
    assert "✗ crl:" in out
