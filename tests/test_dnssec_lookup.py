"""DNSSEC in every lookup that asks for it (``Lookup(dnssec=True)``, ``--dnssec``), for real.

The sandbox signs its SML zone with its own keys; its parent zone holds the DS, and the
parent's key is the network's trust anchor (``Network.dnssec_anchors``). Each test makes the
sandbox's zone secure, insecure (an unsigned zone behind a delegation without DS) or bogus
(signatures that do not verify, have expired, or were stripped on the way), and checks the
verdict, the ``dnssec`` check and its sentence, ``retryable`` and the exit code - over UDP (and
TCP where the answer is too large, or when asked for) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from peppolnet import dnswire
from peppolnet.cli import main
from peppolnet.dnssec import ROOT_ANCHORS
from peppolnet.errors import DnssecBogus, InvalidInput, NotRegistered
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup, RetryPolicy
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import network_from_state, write_state
from peppolnet.sml import AsyncSmlResolver, SmlResolver

UNREGISTERED = ParticipantId.parse("0007:5560000001")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """This module's own sandbox: its tests change the zone's DNSSEC, which no other may see."""
    with Sandbox.start() as running:
        yield running


@pytest.fixture
def zone(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The module's sandbox with its SML zone in the DNSSEC mode the test names; signed after."""
    sandbox.dns.set_dnssec(getattr(request, "param", "signed"))
    try:
        yield sandbox
    finally:
        sandbox.dns.set_dnssec("signed")
        sandbox.dns.set_lie(None)
        sandbox.dns.set_latency(0.0)


def registered(sandbox: Sandbox) -> ParticipantId:
    return next(p.id for p in sandbox.config.participants if p.in_sml and not p.quirks)


def check(sandbox: Sandbox, participant: ParticipantId, *, asynchronous: bool) -> Reachability:
    """One lookup with DNSSEC, by the sync or the async twin."""
    if not asynchronous:
        with Lookup(sandbox.network, dnssec=True, timeout=5.0) as lookup:
            return lookup.check(participant)

    async def run() -> Reachability:
        async with AsyncLookup(sandbox.network, dnssec=True, timeout=5.0) as lookup:
            return await lookup.check(participant)

    return asyncio.run(run())


def names(result: Reachability) -> list[str]:
    return [c.name for c in result.checks]


TWINS = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@TWINS
def test_a_secure_answer_passes_and_the_verdict_stands(zone: Sandbox, asynchronous: bool) -> None:
    result = check(zone, registered(zone), asynchronous=asynchronous)
    assert result.verdict is Verdict.CAN_RECEIVE
    dnssec = result.check("dnssec")
    assert dnssec is not None
    assert dnssec.status is CheckStatus.PASS
    assert dnssec.message.startswith(f"the answer is signed by {zone.config.zone}")
    # right before the SML's own check: DNSSEC vouches for the answer the SML check reads
    assert names(result)[names(result).index("dnssec") + 1] == "sml"
    assert dnssec.text("sv").startswith(f"svaret är signerat av {zone.config.zone}")


@TWINS
def test_a_proven_denial_is_not_registered(zone: Sandbox, asynchronous: bool) -> None:
    result = check(zone, UNREGISTERED, asynchronous=asynchronous)
    assert result.verdict is Verdict.NOT_REGISTERED
    dnssec = result.check("dnssec")
    assert dnssec is not None
    assert dnssec.status is CheckStatus.PASS
    assert "proven by its NSEC records" in dnssec.message


@TWINS
@pytest.mark.parametrize("zone", ["unsigned"], indirect=True)
def test_an_unsigned_zone_only_warns(zone: Sandbox, asynchronous: bool) -> None:
    with Lookup(zone.network, timeout=5.0) as plain:
        without = [plain.check(p).verdict for p in (registered(zone), UNREGISTERED)]
    results = [check(zone, p, asynchronous=asynchronous) for p in (registered(zone), UNREGISTERED)]
    assert [r.verdict for r in results] == without == [Verdict.CAN_RECEIVE, Verdict.NOT_REGISTERED]
    for result in results:
        dnssec = result.check("dnssec")
        assert dnssec is not None
        assert dnssec.status is CheckStatus.WARN
        assert "is not signed: its parent sandbox.peppolnet.test shows a delegation" in (
            dnssec.message
        )


@TWINS
@pytest.mark.parametrize(
    ("zone", "says"),
    [
        ("bogus", "(the signature does not verify)"),
        ("expired", "(the signature has expired)"),
        ("stripped", "a resolver on the way may drop DNSSEC records"),
    ],
    indirect=["zone"],
)
@pytest.mark.parametrize("who", ["registered", "unregistered"])
def test_a_bogus_answer_is_unknown_and_not_retryable(
    zone: Sandbox, says: str, who: str, asynchronous: bool
) -> None:
    participant = registered(zone) if who == "registered" else UNREGISTERED
    result = check(zone, participant, asynchronous=asynchronous)
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable is False
    dnssec = result.check("dnssec")
    assert dnssec is not None
    assert dnssec.status is CheckStatus.FAIL
    assert result.reason == dnssec.message
    assert dnssec.message.startswith("the SML's answer is bogus (DNSSEC): ")
    assert says in dnssec.message
    assert result.check("sml") is None  # the answer was not used


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_without_dnssec_nothing_changes(zone: Sandbox) -> None:
    """Signatures are only sent to who asks (the DO bit); a lookup that does not validate sees
    the same answers, and no dnssec check."""
    with Lookup(zone.network, timeout=5.0) as lookup:
        result = lookup.check(registered(zone))
    assert result.verdict is Verdict.CAN_RECEIVE
    assert "dnssec" not in names(result)


def test_over_tcp_too(zone: Sandbox) -> None:
    for twin in (SmlResolver, AsyncSmlResolver):
        resolver = twin.for_network(zone.network, tcp=True, dnssec=True)
        if twin is SmlResolver:
            answer = resolver.resolve(registered(zone))  # type: ignore[union-attr]
        else:
            answer = asyncio.run(resolver.resolve(registered(zone)))  # type: ignore[arg-type]
        assert answer.dnssec is not None
        assert answer.dnssec.status == "secure"


def test_the_validated_status_is_cached_with_the_answer(zone: Sandbox) -> None:
    resolver = SmlResolver.for_network(zone.network, dnssec=True)
    first = resolver.resolve(registered(zone))
    before = zone.dns.queries
    again = resolver.resolve(registered(zone))
    assert zone.dns.queries == before  # from the cache
    assert again.from_cache
    assert again.dnssec == first.dnssec
    with pytest.raises(NotRegistered) as denied:
        resolver.resolve(UNREGISTERED)
    with pytest.raises(NotRegistered) as cached:
        resolver.resolve(UNREGISTERED)
    assert denied.value.dnssec is not None
    assert cached.value.dnssec == denied.value.dnssec


def test_a_lying_resolver_is_bogus_with_dnssec(zone: Sandbox) -> None:
    """Denying everything, it cannot prove a thing: bogus (without DNSSEC it is the
    retryable untrusted denial of test_lying_resolver)."""
    zone.dns.set_lie("nxdomain")
    result = check(zone, UNREGISTERED, asynchronous=False)
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable is False
    assert result.reason.startswith("the SML's answer is bogus (DNSSEC): ")


def test_a_resolver_that_strips_denials_proofs_makes_denials_bogus(zone: Sandbox) -> None:
    """Without the authority section a denial has no NSEC records: unproven in a signed zone.
    The positive answer needs none and stays secure."""
    zone.dns.set_lie("strip-authority")
    assert check(zone, registered(zone), asynchronous=False).verdict is Verdict.CAN_RECEIVE
    missing = check(zone, UNREGISTERED, asynchronous=False)
    assert missing.verdict is Verdict.UNKNOWN
    assert "carries no signed denial (a resolver on the way may drop DNSSEC records)" in (
        missing.reason
    )


def test_a_chain_that_cannot_be_fetched_in_time_is_retryable(zone: Sandbox) -> None:
    """Each answer takes 0.6 s and the question may take 1.5 s: the NAPTR answer comes, the
    three questions of its chain cannot. A fault, retryable, under the dnssec check."""
    zone.dns.set_latency(0.6)
    with Lookup(
        zone.network, dnssec=True, timeout=1.5, retry=RetryPolicy(attempts=1), deadline=None
    ) as lookup:
        result = lookup.check(registered(zone))
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable is True
    dnssec = result.check("dnssec")
    assert dnssec is not None
    assert dnssec.status is CheckStatus.FAIL
    assert "chain of trust" in dnssec.message


def test_a_resolver_of_the_caller_must_validate_when_asked(zone: Sandbox) -> None:
    plain = SmlResolver.for_network(zone.network)
    with pytest.raises(InvalidInput, match="dnssec=True needs a resolver that validates"):
        Lookup(zone.network, resolver=plain, dnssec=True)
    validating = SmlResolver.for_network(zone.network, dnssec=True)
    with Lookup(zone.network, resolver=validating, dnssec=True) as lookup:
        assert lookup.check(registered(zone)).check("dnssec") is not None


def test_the_sandbox_network_carries_its_anchor_and_real_ones_the_root(zone: Sandbox) -> None:
    anchors = zone.network.dnssec_anchors
    assert anchors == zone.dns.trust_anchors
    assert anchors != ROOT_ANCHORS
    assert anchors[0].startswith("sandbox.peppolnet.test. ")


def test_bogus_raises_from_the_resolver(zone: Sandbox) -> None:
    zone.dns.set_dnssec("bogus")
    resolver = SmlResolver.for_network(zone.network, dnssec=True)
    with pytest.raises(DnssecBogus) as caught:
        resolver.resolve(registered(zone))
    assert caught.value.retryable is False
    assert caught.value.result is not None
    assert caught.value.result.status == "bogus"


def test_queries_ask_with_do_and_cd() -> None:
    query = dnswire.build_query("x.example", dnswire.NAPTR, 7, dnssec=True)
    import dns.flags
    import dns.message

    parsed = dns.message.from_wire(query)
    assert parsed.flags & dns.flags.CD
    assert parsed.ednsflags & dns.flags.DO
    plain = dns.message.from_wire(dnswire.build_query("x.example", dnswire.NAPTR, 7))
    assert not plain.flags & dns.flags.CD
    assert not plain.ednsflags & dns.flags.DO


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def state(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    path = write_state(sandbox.info(), tmp_path / "sandbox.json")
    assert network_from_state(path).dnssec_anchors == sandbox.dns.trust_anchors
    return ["--network", "sandbox", "--state-file", str(path)]


def test_cli_lookup_with_dnssec(
    zone: Sandbox, state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pid = str(registered(zone))
    assert main(["lookup", pid, "--dnssec", *state]) == 0
    assert "dnssec: the answer is signed by" in capsys.readouterr().out
    zone.dns.set_dnssec("bogus")
    assert main(["lookup", pid, "--dnssec", "--json", *state]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "unknown"
    assert out["retryable"] is False
    assert out["checks"][1]["name"] == "dnssec"


def test_cli_sml_lookup_with_dnssec(
    zone: Sandbox, state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    pid = str(registered(zone))
    assert main(["sml", "lookup", pid, "--dnssec", "--json", *state]) == 0
    assert json.loads(capsys.readouterr().out)["dnssec"]["status"] == "secure"
    assert main(["sml", "lookup", pid, *state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dnssec"] is None
    zone.dns.set_dnssec("unsigned")
    assert main(["sml", "lookup", pid, "--dnssec", *state]) == 0
    assert "dnssec: insecure: the zone" in capsys.readouterr().out
    zone.dns.set_dnssec("expired")
    assert main(["sml", "lookup", pid, "--dnssec", *state]) == 3
    assert "bogus (DNSSEC)" in capsys.readouterr().err


def test_cli_check_with_dnssec(
    zone: Sandbox, state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "register.csv"
    register.write_text(f"participant_id\n{registered(zone)}\n{UNREGISTERED}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    zone.dns.set_dnssec("bogus")
    assert main(["check", str(register), "-o", str(out), "--dnssec", "--json", *state]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["verdict"] for row in rows] == ["unknown", "unknown"]
    assert all("bogus (DNSSEC)" in row["reason"] for row in rows)


def test_a_trace_with_dnssec_stops_at_the_bogus_answer(
    zone: Sandbox, state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The trace's hook for DNSSEC: ``--dnssec`` makes the DNS step validate; a bogus answer
    stops the trace there, with the sentence, and the exit code of an unknown verdict."""
    zone.dns.set_dnssec("bogus")
    assert main(["trace", str(registered(zone)), "--dnssec", "--json", *state]) == 3
    data = json.loads(capsys.readouterr().out)
    failed = [step for step in data["steps"] if step["status"] == "fail"]
    assert failed[0]["name"] == "dns"
    assert "bogus (DNSSEC)" in failed[0]["message"]
