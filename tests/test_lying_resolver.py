"""A fault is never a "no", even behind a lying resolver: lookups, bulk runs and the CLI.

The sandbox's DNS server plays the resolver in front of the SML: ``nxdomain`` denies every name
without an authority section, the zone's own SOA included (a captive portal, a filtered or
offline network), so nothing it says can be believed and every customer is ``unknown``;
``strip-authority`` only drops the SOA from denials, so the zone's SOA can still be shown and
verdicts are what the honest network gives. Everything goes over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from peppolnet.bulk import RegisterRow, check_many, check_many_async, read_register
from peppolnet.bulk.run import INVALID_INPUT
from peppolnet.cli import main
from peppolnet.clock import ManualClock
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.dns_server import Lie
from peppolnet.sandbox.state import write_state
from peppolnet.sml import SmlResolver

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"
UNREGISTERED = ParticipantId.parse("0007:5560000001")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's own sandbox: its tests make the DNS lie, which no other module may see."""
    with Sandbox.start() as running:
        yield running


@pytest.fixture(scope="module")
def rows() -> list[RegisterRow]:
    """The fixture register: registered and unregistered customers, and rows that are invalid."""
    return list(read_register(FIXTURE))


@pytest.fixture(scope="module")
def honest(sandbox: Sandbox, rows: list[RegisterRow]) -> dict[int, str]:
    """The verdict of every fixture row behind an honest resolver."""
    with Lookup(sandbox.network, timeout=5.0) as lookup:
        return {r.row.number: r.outcome for r in check_many(rows, lookup, retries=0)}


@pytest.fixture
def behind(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The module's sandbox telling the lie the test is parametrised with; honest afterwards."""
    lie: Lie | None = request.param
    sandbox.dns.set_lie(lie)
    try:
        yield sandbox
    finally:
        sandbox.dns.set_lie(None)


def registered(sandbox: Sandbox) -> ParticipantId:
    return next(p.id for p in sandbox.config.participants if p.in_sml and not p.quirks)


def assert_untrusted(result: Reachability) -> None:
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable is True
    assert result.reason.startswith("the resolver 127.0.0.1 said NXDOMAIN for ")
    assert "cannot be trusted as 'not registered'" in result.reason
    sml = result.check("sml")
    assert sml is not None
    assert sml.status is CheckStatus.FAIL


# --- one lookup ----------------------------------------------------------------------------------


@pytest.mark.parametrize("behind", ["nxdomain"], indirect=True)
def test_lookup_behind_a_resolver_that_denies_everything(behind: Sandbox) -> None:
    with Lookup(behind.network, timeout=5.0) as lookup:
        for pid in (registered(behind), UNREGISTERED):
            assert_untrusted(lookup.check(pid))
        # an organisation number tried under each of its schemes: every denial is untrusted
        assert_untrusted(lookup.check(number="933215385", country="NO"))


@pytest.mark.parametrize("behind", ["nxdomain"], indirect=True)
def test_async_lookup_behind_a_resolver_that_denies_everything(behind: Sandbox) -> None:
    async def run() -> list[Reachability]:
        async with AsyncLookup(behind.network, timeout=5.0) as lookup:
            return list(await asyncio.gather(*(lookup.check(p) for p in pids)))

    pids = [registered(behind), UNREGISTERED]
    for result in asyncio.run(run()):
        assert_untrusted(result)


@pytest.mark.parametrize("behind", [None, "strip-authority"], indirect=True)
def test_lookup_verdicts_stand_where_the_zone_can_be_shown(behind: Sandbox) -> None:
    with Lookup(behind.network, timeout=5.0) as lookup:
        assert lookup.check(registered(behind)).verdict is Verdict.CAN_RECEIVE
        missing = lookup.check(UNREGISTERED)
    assert missing.verdict is Verdict.NOT_REGISTERED
    assert missing.retryable is False


# --- a whole register ----------------------------------------------------------------------------


def expected_behind_the_liar(honest: dict[int, str]) -> dict[int, str]:
    """Every row that could be looked up is unknown; rows that could not stay invalid-input."""
    return {n: v if v == INVALID_INPUT else Verdict.UNKNOWN.value for n, v in honest.items()}


@pytest.mark.parametrize("behind", ["nxdomain"], indirect=True)
def test_check_many_behind_a_resolver_that_denies_everything(
    behind: Sandbox, rows: list[RegisterRow], honest: dict[int, str]
) -> None:
    assert {"can-receive", "not-registered"} <= set(honest.values())
    # the event-loop engine (its own AsyncLookup) and the threads engine (a Lookup of ours)
    with Lookup(behind.network, timeout=5.0) as lookup:
        for results in (
            list(check_many(rows, network=behind.network, timeout=5.0, retries=0)),
            list(check_many(rows, lookup, retries=0, concurrency=8)),
        ):
            assert [r.row.number for r in results] == [row.number for row in rows]
            assert {r.row.number: r.outcome for r in results} == expected_behind_the_liar(honest)
            for result in results:
                if result.reachability is not None:
                    assert_untrusted(result.reachability)


@pytest.mark.parametrize("behind", ["nxdomain"], indirect=True)
def test_check_many_async_behind_a_resolver_that_denies_everything(
    behind: Sandbox, rows: list[RegisterRow], honest: dict[int, str]
) -> None:
    async def run() -> dict[int, str]:
        found: dict[int, str] = {}
        async for result in check_many_async(rows, network=behind.network, timeout=5.0, retries=0):
            found[result.row.number] = result.outcome
        return found

    assert asyncio.run(run()) == expected_behind_the_liar(honest)


@pytest.mark.parametrize("behind", ["strip-authority"], indirect=True)
def test_check_many_behind_strip_authority_costs_one_probe(
    behind: Sandbox, rows: list[RegisterRow], honest: dict[int, str]
) -> None:
    def run() -> tuple[dict[int, str], int]:
        # a fresh resolver each time (nothing cached), whose clock stands still: what it
        # remembers stays remembered however slow the machine
        still = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
        resolver = SmlResolver.for_network(
            behind.network, timeout=5.0, require_https=False, clock=still
        )
        before = behind.dns.queries
        with Lookup(behind.network, resolver=resolver, timeout=5.0) as lookup:
            verdicts = {r.row.number: r.outcome for r in check_many(rows, lookup, retries=0)}
        return verdicts, behind.dns.queries - before

    stripped, stripped_queries = run()
    behind.dns.set_lie(None)
    again, honest_queries = run()
    assert stripped == again == honest
    assert stripped_queries == honest_queries + 1  # one SOA query for the whole register


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def state_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    """``--network sandbox`` finds the module's sandbox through this (as after `serve`)."""
    path = tmp_path / "sandbox.json"
    write_state(sandbox.info(), path)
    return path


@pytest.mark.parametrize("behind", ["nxdomain"], indirect=True)
def test_cli_behind_a_resolver_that_denies_everything(
    behind: Sandbox,
    state_file: Path,
    honest: dict[int, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    network = ["--network", "sandbox", "--state-file", str(state_file)]
    dns = [
        "--zone",
        behind.config.zone,
        "--nameserver",
        "127.0.0.1",
        "--port",
        str(behind.dns.port),
    ]
    for pid in (registered(behind), UNREGISTERED):
        assert main(["lookup", pid.value, "--json", *network]) == 3  # 3: unknown
        result = json.loads(capsys.readouterr().out)
        assert (result["verdict"], result["retryable"]) == ("unknown", True)
        assert result["reason"].startswith("the resolver 127.0.0.1 said NXDOMAIN")
        assert main(["sml", "lookup", pid.value, *dns]) == 3  # the SML alone: a fault too
        assert "could not show the SOA of the SML zone" in capsys.readouterr().err

    out = tmp_path / "checked.csv"
    # `check` exits 0 when the run completed, whatever the verdicts (3: the run could not start)
    code = main(["check", str(FIXTURE), "-o", str(out), "--json", "--concurrency", "64", *network])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    expected = expected_behind_the_liar(honest)
    assert summary["written"] == len(expected)
    assert summary["verdicts"] == {
        "unknown": sum(v == "unknown" for v in expected.values()),
        INVALID_INPUT: sum(v == INVALID_INPUT for v in expected.values()),
    }
    with out.open(encoding="utf-8-sig", newline="") as fh:
        written = {int(r["row"]): r["verdict"] for r in csv.DictReader(fh)}
    assert written == expected  # one row out per row in, none of them a "no"


@pytest.mark.parametrize("behind", ["strip-authority"], indirect=True)
def test_cli_lookup_behind_strip_authority(
    behind: Sandbox, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    network = ["--network", "sandbox", "--state-file", str(state_file)]
    assert main(["lookup", registered(behind).value, *network]) == 0
    assert main(["lookup", UNREGISTERED.value, *network]) == 1  # 1: not registered
    assert "NOT-REGISTERED" in capsys.readouterr().out
