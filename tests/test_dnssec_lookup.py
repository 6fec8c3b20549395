"""DNSSEC in every lookup that asks for it (``Lookup(dnssec=True)``, ``--dnssec``), for real.

The sandbox signs its SML zone with its own keys; its parent zone holds the DS, and the
parent's key is the network's trust anchor (``Network.dnssec_anchors``). Each test makes the
sandbox's zone secure, insecure (an unsigned zone behind a delegation without DS) or bogus
(signatures that do not verify, have expired, or were stripped on the way), and checks the
verdict, the ``dnssec`` check and its sentence, ``retryable`` and the exit code - over UDP (and
TCP where the answer is too large, or when asked for) on 127.0.0.1.

A trace shows the validation as a ``dnssec`` step: its sentence (in Swedish too), the zones the
chain of trust walked with their keys and DS records, the DS and DNSKEY questions. Customers and
requests are looked up with it too (``customers refresh``, ``request add``'s plan, ``request
follow-up``): with bogus signatures a lookup that does not validate still sees the customer, one
that validates says ``unknown`` - so those tests show both that ``dnssec`` reaches the lookup
and that a forged answer stores no move, plans no request away and confirms none.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peppolnet import dnswire
from peppolnet.cli import main
from peppolnet.dnssec import ROOT_ANCHORS
from peppolnet.errors import DnssecBogus, InvalidInput, NotRegistered
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup, RetryPolicy
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.recipients import AddRecipientRequest, OutboxChannel, RecipientDirectory
from peppolnet.recipients.tracking import RequestTracker
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig
from peppolnet.sandbox.state import network_from_state, write_state
from peppolnet.sml import AsyncSmlResolver, SmlResolver
from peppolnet.trace import Trace, TraceStep
from peppolnet.trace.render import lines

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
    """``--dnssec`` validates the DNS step's answer; a bogus answer stops the trace at the
    ``dnssec`` step (the DNS step answered), with the sentence, and the exit code of an
    unknown verdict."""
    zone.dns.set_dnssec("bogus")
    assert main(["trace", str(registered(zone)), "--dnssec", "--json", *state]) == 3
    data = json.loads(capsys.readouterr().out)
    failed = [step for step in data["steps"] if step["status"] == "fail"]
    assert [step["name"] for step in failed] == ["dnssec", "verdict"]
    assert "bogus (DNSSEC)" in failed[0]["message"]
    assert [step["name"] for step in data["steps"]][2:4] == ["dns", "dnssec"]


# --- a trace: the validation as a step of its own --------------------------------------------

PARENT = "sandbox.peppolnet.test"


def traced(sandbox: Sandbox, participant: ParticipantId) -> Trace:
    with Lookup(sandbox.network, dnssec=True, timeout=5.0) as lookup:
        return lookup.trace(participant)


def dnssec_step(trace: Trace) -> TraceStep:
    step = trace.step("dnssec")
    assert step is not None, [s.name for s in trace.steps]
    return step


def steps(trace: Trace) -> list[str]:
    return [step.name for step in trace.steps]


def asked(step: TraceStep) -> list[tuple[str, str]]:
    return [(q["type"], q["name"]) for q in step.details["queries"]]


def walked(step: TraceStep) -> list[tuple[str, str, Any]]:
    return [(link["zone"], link["vouched_by"], link["parent"]) for link in step.details["chain"]]


def test_a_secure_answer_is_a_step_with_its_chain(zone: Sandbox) -> None:
    trace = traced(zone, registered(zone))
    assert trace.reachability.verdict is Verdict.CAN_RECEIVE
    assert steps(trace)[2:5] == ["dns", "dnssec", "smp-url"]
    step = dnssec_step(trace)
    sml = zone.config.zone
    assert step.status is CheckStatus.PASS
    assert step.message == (
        f"the answer is signed by {sml} and its chain of trust from the trust anchor at "
        f"{PARENT} validates"
    )
    assert [c.name for c in step.checks] == ["dnssec"]  # the lookup's check belongs here
    details = step.details
    assert (details["status"], details["zone"], details["anchors"]) == ("secure", sml, [PARENT])
    # from the trust anchor down: the parent's key, then the SML zone's, vouched by its DS
    assert walked(step) == [(PARENT, "trust-anchor", None), (sml, "ds", PARENT)]
    for link in details["chain"]:
        assert link["keys"]
        assert all(k["algorithm"] == "ECDSAP256SHA256" for k in link["keys"])
        vouched = {k["key_tag"] for k in link["keys"] if k["vouched"]}
        assert vouched & {ds["key_tag"] for ds in link["ds"]}  # a key the DS (anchor) names
    assert sorted(asked(step)) == [
        ("DNSKEY", f"{PARENT}."),
        ("DNSKEY", f"{sml}."),
        ("DS", f"{sml}."),
    ]
    dns = trace.step("dns")
    assert dns is not None
    assert {q["type"] for q in dns.details["queries"]} == {"NAPTR"}
    assert step.to_json()["details"]["chain"][1]["vouched_by"] == "ds"  # plain JSON values


def test_the_step_and_its_facts_in_swedish(zone: Sandbox) -> None:
    trace = traced(zone, registered(zone))
    sml = zone.config.zone
    shown = "\n".join(lines(trace, "sv"))
    assert (
        f"dnssec: svaret är signerat av {sml} och dess förtroendekedja från förtroendeankaret "
        f"vid {PARENT} valideras"
    ) in shown
    assert f"{PARENT}: nycklarna " in shown
    assert "som förtroendeankaret går i god för" in shown
    assert f"som DS-posten i {PARENT} går i god för" in shown
    english = "\n".join(lines(trace))
    assert f"{sml}: keys " in english
    assert f"vouched for by its DS record in {PARENT}" in english


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_a_bogus_answer_stops_the_trace_at_the_dnssec_step(zone: Sandbox) -> None:
    trace = traced(zone, registered(zone))
    assert trace.reachability.verdict is Verdict.UNKNOWN
    assert steps(trace)[2:] == ["dns", "dnssec", "verdict"]
    dns = trace.step("dns")
    assert dns is not None
    assert dns.status is CheckStatus.PASS  # the DNS answered; DNSSEC says it is not usable
    step = dnssec_step(trace)
    assert trace.failed is step
    assert step.status is CheckStatus.FAIL
    assert step.retryable is False
    assert step.message == trace.reachability.reason
    assert step.message.startswith("the SML's answer is bogus (DNSSEC): the signature over the ")
    assert step.message.endswith(
        f"does not validate with the keys of {zone.config.zone} (the signature does not verify)"
    )
    assert step.details["status"] == "bogus"
    # the keys were fine (each vouched for); the answer's own signature is what failed
    assert walked(step) == [(PARENT, "trust-anchor", None), (zone.config.zone, "ds", PARENT)]
    shown = lines(trace, "sv")
    assert any(
        line.startswith("4. ✗ dnssec: SML:ens svar är ogiltigt (DNSSEC): ")
        and "(signaturen stämmer inte)" in line
        for line in shown
    ), shown


@pytest.mark.parametrize("zone", ["unsigned"], indirect=True)
def test_an_unsigned_zone_warns_and_shows_the_delegation(zone: Sandbox) -> None:
    trace = traced(zone, registered(zone))
    assert trace.reachability.verdict is Verdict.CAN_RECEIVE
    step = dnssec_step(trace)
    assert step.status is CheckStatus.WARN
    assert step.message.startswith(f"the zone {zone.config.zone} is not signed")
    assert walked(step) == [(PARENT, "trust-anchor", None), (zone.config.zone, "no-ds", PARENT)]
    assert ("DS", f"{zone.config.zone}.") in asked(step)
    english = lines(trace)
    assert any(
        f"{zone.config.zone}: not signed ({PARENT} delegates to it without a DS record)" in line
        for line in english
    )
    swedish = lines(trace, "sv")
    assert any(
        f"{zone.config.zone}: inte signerad ({PARENT} delegerar till den utan DS-post)" in line
        for line in swedish
    )


def test_a_proven_denial_comes_before_the_dns_step_that_ends_the_trace(zone: Sandbox) -> None:
    trace = traced(zone, UNREGISTERED)
    assert trace.reachability.verdict is Verdict.NOT_REGISTERED
    assert steps(trace)[2:] == ["dnssec", "dns", "verdict"]
    step = dnssec_step(trace)
    assert step.status is CheckStatus.PASS
    assert step.message.startswith("the denial (NXDOMAIN) is signed by ")
    assert trace.failed is trace.step("dns")


def test_keys_from_an_earlier_lookup_are_shown_as_such(zone: Sandbox) -> None:
    with Lookup(zone.network, dnssec=True, timeout=5.0) as lookup:
        lookup.check(registered(zone))  # learns the zones' keys
        trace = lookup.trace(registered(zone))
    step = dnssec_step(trace)
    assert step.status is CheckStatus.PASS
    assert asked(step) == []  # nothing asked: the keys are kept for their TTL
    assert walked(step) == [(zone.config.zone, "cache", None)]
    assert [k["vouched"] for k in step.details["chain"][0]["keys"]] == [None]
    assert any("checked by an earlier lookup" in line for line in lines(trace))


def test_a_chain_that_cannot_be_fetched_fails_the_step_and_is_retryable(zone: Sandbox) -> None:
    """As in test_a_chain_that_cannot_be_fetched_in_time_is_retryable, traced."""
    zone.dns.set_latency(0.6)
    with Lookup(
        zone.network, dnssec=True, timeout=1.5, retry=RetryPolicy(attempts=1), deadline=None
    ) as lookup:
        trace = lookup.trace(registered(zone))
    assert trace.reachability.verdict is Verdict.UNKNOWN
    step = dnssec_step(trace)
    assert trace.failed is step
    assert step.status is CheckStatus.FAIL
    assert step.retryable is True
    assert step.details["status"] == "indeterminate"
    assert "chain of trust" in step.message
    assert "(a fault: trying again later may give an answer)" in "\n".join(lines(trace))


def test_without_dnssec_there_is_no_dnssec_step(zone: Sandbox) -> None:
    with Lookup(zone.network, timeout=5.0) as lookup:
        trace = lookup.trace(registered(zone))
    assert "dnssec" not in steps(trace)


# --- customers and requests: a forged answer stores no move, plans nothing away, confirms nothing

KVITTRA = "PSE000102"


def customer(sandbox: Sandbox) -> ParticipantConfig:
    """A plain participant Kvittra serves."""
    return next(
        p
        for p in sandbox.config.participants
        if p.in_sml and not p.quirks and p.operator == "kvittra" and p.id.icd == "0007"
    )


def directory_of(sandbox: Sandbox, path: Path) -> RecipientDirectory:
    directory = RecipientDirectory(path)
    found = customer(sandbox)
    directory.add(found.name, participant_id=str(found.id))
    return directory


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


# --- customers refresh -----------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_refresh_with_dnssec_stores_a_bogus_answer_as_unknown(
    zone: Sandbox, tmp_path: Path
) -> None:
    pid = customer(zone).id
    with directory_of(zone, tmp_path / "db.sqlite") as directory:
        report = directory.refresh(zone.network, dnssec=True, concurrency=2)
        assert report.counts == {"unknown": 1}
        stored = directory.get(pid)
        assert stored is not None
        assert stored.verdict == "unknown"
        assert stored.reason is not None
        assert stored.reason.startswith("the SML's answer is bogus (DNSSEC): ")
        # the same directory without DNSSEC: the (unverifiable) records are used as they are
        assert directory.refresh(zone.network, concurrency=2).counts == {"can-receive": 1}
        assert directory.changes() == []  # unknown is never a change


def test_refresh_with_a_lookup_of_yours_must_validate(sandbox: Sandbox, tmp_path: Path) -> None:
    with directory_of(sandbox, tmp_path / "db.sqlite") as directory:
        refused = pytest.raises(InvalidInput, match="needs that lookup made with dnssec=True")
        with Lookup(sandbox.network, timeout=5.0) as plain, refused:
            directory.refresh(lookup=plain, dnssec=True)
        with Lookup(sandbox.network, dnssec=True, timeout=5.0) as validating:
            report = directory.refresh(lookup=validating, dnssec=True, concurrency=2)
        assert report.counts == {"can-receive": 1}


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_cli_refresh_with_dnssec(
    zone: Sandbox, state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.sqlite"
    directory_of(zone, db).close()
    code, report = run(
        capsys, "customers", "refresh", "--db", str(db), "--json", "--dnssec", *state
    )
    assert code == 0
    assert report["counts"] == {"unknown": 1}
    code, report = run(capsys, "customers", "refresh", "--db", str(db), "--json", *state)
    assert report["counts"] == {"can-receive": 1}


# --- request add / update: the planning lookup -----------------------------------------------


def add_args(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    found = customer(sandbox)
    return [
        "request", "add", "--name", found.name, "--org-number", found.id.local_id,
        "--operator", KVITTRA, "--email", "faktura@kund.example", "--json",
        "--operators-file", str(tmp_path / "operators.json"), "--db", str(tmp_path / "r.sqlite"),
    ]  # fmt: skip


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_cli_request_add_plans_with_dnssec(
    zone: Sandbox, state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without DNSSEC the customer is already with Kvittra: nothing to send. With it, the
    forged-looking answer is a fault - "network state unknown" - and the request is kept."""
    code, plain = run(capsys, *add_args(zone, tmp_path), *state)
    assert code == 0
    assert plain["plan"]["network_state"] == "registered-with-operator"
    assert plain["status"] is None  # nothing stored
    code, checked = run(capsys, *add_args(zone, tmp_path), "--dnssec", *state)
    assert code == 0
    assert checked["plan"]["network_state"] == "unknown"
    assert "bogus (DNSSEC)" in checked["plan"]["message"]
    assert checked["status"] == "draft"


@pytest.mark.parametrize("command", ["add", "update"])
def test_cli_request_dnssec_with_no_check_is_refused(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """``--dnssec`` validates the planning lookup that ``--no-check`` skips: a usage error
    (exit 2) before anything is stored, not a request saved as if it had been checked."""
    argv = add_args(sandbox, tmp_path)
    argv[1] = command
    if command == "update":
        argv += ["--from-operator", "PSE000109", "--new-migration-key"]
    assert main([*argv, "--no-check", "--dnssec"]) == 2
    captured = capsys.readouterr()
    assert "--dnssec validates the network check that --no-check skips" in captured.err
    assert captured.out == ""
    assert not (tmp_path / "r.sqlite").exists()  # nothing stored
    assert main(["--lang", "sv", *argv, "--no-check", "--dnssec"]) == 2
    assert "hoppar över" in capsys.readouterr().err


# --- request follow-up -----------------------------------------------------------------------


def sent_request(sandbox: Sandbox, tmp_path: Path) -> tuple[RequestTracker, str]:
    """A request to register the customer with the operator that already serves it, sent."""
    found = customer(sandbox)
    request = AddRecipientRequest.create(
        company_name=found.name,
        organisation_number=found.id.local_id,
        operator=KVITTRA,
        email="faktura@kund.example",
    )
    tracker = RequestTracker(tmp_path / "r.sqlite")
    tracker.save(request)
    tracker.send(request.request_id, OutboxChannel(tmp_path / "outbox"))
    return tracker, request.request_id


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_follow_up_with_dnssec_does_not_confirm_on_a_bogus_answer(
    zone: Sandbox, tmp_path: Path
) -> None:
    tracker, rid = sent_request(zone, tmp_path)
    with tracker:
        [pending] = tracker.follow_up(zone.network, dnssec=True)
        assert (pending.request_id, pending.status.value) == (rid, "sent")
        assert [c.verdict.value for c in pending.checks] == ["unknown", "unknown"]
        assert all(c.reason.startswith("the SML's answer is bogus") for c in pending.checks)
        zone.dns.set_dnssec("signed")
        [done] = tracker.follow_up(zone.network, dnssec=True)
        assert done.status.value == "confirmed"
        assert all(c.check("dnssec") is not None for c in done.checks)


def test_follow_up_with_a_lookup_of_yours_must_validate(sandbox: Sandbox, tmp_path: Path) -> None:
    tracker, rid = sent_request(sandbox, tmp_path)
    refused = pytest.raises(InvalidInput, match="needs that lookup made with dnssec=True")
    with tracker, Lookup(sandbox.network, timeout=5.0) as plain, refused:
        tracker.follow_up(plain, dnssec=True)
    with RequestTracker(tmp_path / "r.sqlite") as again:
        still = again.get(rid)
        assert still is not None
        assert still.status.value == "sent"  # refused before anything was looked up


@pytest.mark.parametrize("zone", ["bogus"], indirect=True)
def test_cli_follow_up_with_dnssec(
    zone: Sandbox, state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent_request(zone, tmp_path)[0].close()
    db = ["--db", str(tmp_path / "r.sqlite"), "--json"]
    code, results = run(capsys, "request", "follow-up", *db, "--dnssec", *state)
    assert code == 0
    assert [r["status"] for r in results] == ["sent"]
    code, results = run(capsys, "request", "follow-up", *db, *state)
    assert [r["status"] for r in results] == ["confirmed"]


NEW_REQUEST = ["--name", "Bygg AB", "--org-number", "559012-3450", "--operator", KVITTRA,
               "--email", "f@bygg.example"]  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [["request", "follow-up"], ["request", "add", *NEW_REQUEST]],
    ids=["follow-up", "add"],
)
def test_requests_are_for_one_network_not_auto(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A request goes to one network's operator: the test network showing the customer must
    not confirm (or plan) a production request, so ``--network auto`` is refused there."""
    assert main([*command, "--network", "auto"]) == 2
    assert "unknown network 'auto'" in capsys.readouterr().err
