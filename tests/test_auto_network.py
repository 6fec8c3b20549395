"""``--network auto``: networks asked in order, the first where the participant is registered
answers - and only a believed "not registered" moves on.

Two sandbox networks stand in for production and test (each its own DNS server, SMPs and CAs
on 127.0.0.1): a participant is withdrawn from the first, made to fail there, or is in neither,
and the answer, the network it names and which networks were asked are checked - for
``check`` and for ``trace``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import peppolnet.network
from peppolnet.auto import AsyncAutoLookup, AutoLookup
from peppolnet.cli import main
from peppolnet.errors import InvalidInput
from peppolnet.identifiers import ParticipantId
from peppolnet.network import Networks, auto_networks
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.recipients import RecipientDirectory
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig
from peppolnet.sml import SmlResolver
from peppolnet.trace import Trace
from peppolnet.trace.model import NetworkStep
from peppolnet.trace.render import lines

UNREGISTERED = ParticipantId.parse("0007:5560000001")


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Sandbox, Sandbox]]:
    with Sandbox.start() as first, Sandbox.start() as second:
        yield first, second


@pytest.fixture
def networks(pair: tuple[Sandbox, Sandbox]) -> Iterator[Networks]:
    first, second = pair
    try:
        yield Networks(
            "auto", (first.network.replace(name="first"), second.network.replace(name="second"))
        )
    finally:
        first.dns.set_lie(None)
        first.dns.set_fault(None, None)


def participant(sandbox: Sandbox) -> ParticipantConfig:
    return next(p for p in sandbox.config.participants if p.in_sml and not p.quirks)


def look(networks: Networks, pid: ParticipantId, *, asynchronous: bool = False) -> Reachability:
    result: Reachability = ask(networks, pid, "check", asynchronous=asynchronous)
    return result


def ask(networks: Networks, pid: ParticipantId, method: str, *, asynchronous: bool) -> Any:
    """``AutoLookup.<method>(pid)`` (``check`` or ``trace``), or its async twin's."""
    if not asynchronous:
        with AutoLookup(networks, timeout=5.0) as lookup:
            return getattr(lookup, method)(pid)

    async def run() -> Any:
        async with AsyncAutoLookup(networks, timeout=5.0) as lookup:
            return await getattr(lookup, method)(pid)

    return asyncio.run(run())


def network_check(result: Reachability) -> tuple[CheckStatus, str]:
    assert result.checks[0].name == "network"  # first: which network answers decides the rest
    return result.checks[0].status, result.checks[0].message


TWINS = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@TWINS
def test_the_first_network_answers_and_the_second_is_not_asked(
    pair: tuple[Sandbox, Sandbox], networks: Networks, asynchronous: bool
) -> None:
    first, second = pair
    before = second.dns.queries
    result = look(networks, participant(first).id, asynchronous=asynchronous)
    assert result.verdict is Verdict.CAN_RECEIVE
    assert result.network == "first"
    assert network_check(result) == (
        CheckStatus.PASS,
        "registered on the first network, the first one tried",
    )
    assert second.dns.queries == before


@TWINS
def test_not_registered_on_the_first_is_asked_on_the_second(
    pair: tuple[Sandbox, Sandbox], networks: Networks, asynchronous: bool
) -> None:
    first, _ = pair
    moved = participant(first)
    first.remove_participant(moved.id)
    try:
        result = look(networks, moved.id, asynchronous=asynchronous)
    finally:
        first.register_participant(moved)
    assert result.verdict is Verdict.CAN_RECEIVE
    assert result.network == "second"
    status, message = network_check(result)
    assert status is CheckStatus.PASS
    assert message == "not registered on first; registered on the second network"
    assert result.checks[0].text("sv") == (
        "inte registrerad i first; registrerad i nätverket second"
    )


@pytest.mark.parametrize("fault", ["servfail", "lie"])
def test_a_fault_on_the_first_is_unknown_and_the_second_is_not_asked(
    pair: tuple[Sandbox, Sandbox], networks: Networks, fault: str
) -> None:
    first, second = pair
    pid = participant(first).id
    if fault == "servfail":
        first.dns.set_fault(pid, "servfail")
    else:
        first.dns.set_lie("nxdomain")  # a denial that cannot be believed is a fault too
    before = second.dns.queries
    result = look(networks, pid)
    first.dns.set_fault(pid, None)
    assert result.verdict is Verdict.UNKNOWN
    assert result.network == "first"
    status, message = network_check(result)
    assert status is CheckStatus.SKIPPED
    assert "the first network could not answer, so second was not asked" in message
    assert result.reason != message  # the fault itself stays the reason
    assert second.dns.queries == before


def test_in_neither_network_is_not_registered(networks: Networks) -> None:
    result = look(networks, UNREGISTERED)
    assert result.verdict is Verdict.NOT_REGISTERED
    assert result.network == "first"
    assert network_check(result) == (
        CheckStatus.FAIL,
        "not registered on any network tried: first, second",
    )
    assert result.reason == "not registered on any network tried: first, second"


def test_the_last_network_failing_after_a_no(
    pair: tuple[Sandbox, Sandbox], networks: Networks
) -> None:
    first, second = pair
    moved = participant(first)
    first.remove_participant(moved.id)
    second.dns.set_fault(moved.id, "servfail")
    try:
        result = look(networks, moved.id)
    finally:
        first.register_participant(moved)
        second.dns.set_fault(moved.id, None)
    assert result.verdict is Verdict.UNKNOWN
    assert result.network == "second"
    assert network_check(result) == (
        CheckStatus.SKIPPED,
        "not registered on first; the second network could not answer",
    )


def test_options_of_one_network_are_refused(networks: Networks) -> None:
    resolver = SmlResolver.for_network(networks.networks[0])
    with pytest.raises(InvalidInput, match="resolver belongs to one network"):
        AutoLookup(networks, resolver=resolver)


def test_networks_are_values() -> None:
    auto = auto_networks()
    assert [n.name for n in auto] == ["production", "test"]
    moved = auto.replace(nameservers=("127.0.0.1",), dns_port=5353)
    assert {(n.nameservers, n.dns_port) for n in moved} == {(("127.0.0.1",), 5353)}
    assert [n.sml_zone for n in moved] == [n.sml_zone for n in auto]
    with pytest.raises(InvalidInput, match="names no network"):
        Networks("none", ())


def test_cli_lookup_network_auto(
    networks: Networks,
    pair: tuple[Sandbox, Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--network auto`` is production then test; here the two sandboxes stand in for them."""
    monkeypatch.setattr(peppolnet.network, "auto_networks", lambda: networks)
    first, _ = pair
    moved = participant(first)
    first.remove_participant(moved.id)
    try:
        assert main(["lookup", str(moved.id), "--network", "auto", "--json"]) == 0
    finally:
        first.register_participant(moved)
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "second"
    assert data["checks"][0]["name"] == "network"
    assert main(["lookup", str(UNREGISTERED), "--network", "auto"]) == 1
    assert "not registered on any network tried: first, second" in capsys.readouterr().out


def test_cli_network_auto_needs_no_zone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "0007:5567321707", "--network", "auto", "--zone", "x.example"]) == 2
    assert "--zone names one SML zone" in capsys.readouterr().err
    assert main(["directory", "search", "fjord", "--network", "auto"]) == 2
    assert "unknown network 'auto'" in capsys.readouterr().err


def test_refresh_across_networks(
    networks: Networks, pair: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    """``RecipientDirectory.refresh`` with a ``Networks``: each customer is looked up where it
    is registered - one only on the second network is reachable, one in neither is not."""
    first, second = pair
    moved = participant(first)
    with RecipientDirectory(tmp_path / "db.sqlite") as directory:
        directory.add(moved.name, participant_id=str(moved.id))
        directory.add("Nowhere AB", participant_id=str(UNREGISTERED))
        first.remove_participant(moved.id)
        before = second.dns.queries
        try:
            report = directory.refresh(networks, concurrency=2)
        finally:
            first.register_participant(moved)
        assert report.counts == {"can-receive": 1, "not-registered": 1}
        assert second.dns.queries > before
        found = directory.get(moved.id)
        assert found is not None
        assert (found.verdict, found.operator_name) == ("can-receive", "Kvittra AB")


def test_cli_refresh_network_auto(
    networks: Networks,
    pair: tuple[Sandbox, Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(peppolnet.network, "auto_networks", lambda: networks)
    first, _ = pair
    moved = participant(first)
    db = tmp_path / "db.sqlite"
    with RecipientDirectory(db) as directory:
        directory.add(moved.name, participant_id=str(moved.id))
    first.remove_participant(moved.id)
    try:
        code = main(["customers", "refresh", "--db", str(db), "--network", "auto", "--json"])
    finally:
        first.register_participant(moved)
    assert code == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"can-receive": 1}
    assert (
        main(["customers", "refresh", "--db", str(db), "--network", "auto", "--zone", "x.t"]) == 2
    )
    assert "--zone names one SML zone" in capsys.readouterr().err


# --- trace --network auto: the trace of the network that answered, after a network step ------


@contextlib.contextmanager
def withdrawn(sandbox: Sandbox) -> Iterator[ParticipantConfig]:
    """A participant of ``sandbox`` taken out of its SML for the block, then put back."""
    moved = participant(sandbox)
    sandbox.remove_participant(moved.id)
    try:
        yield moved
    finally:
        sandbox.register_participant(moved)


def auto_trace(networks: Networks, pid: ParticipantId, *, asynchronous: bool) -> Trace:
    traced: Trace = ask(networks, pid, "trace", asynchronous=asynchronous)
    return traced


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_auto_traces_the_second_network_after_a_no_on_the_first(
    pair: tuple[Sandbox, Sandbox], networks: Networks, asynchronous: bool
) -> None:
    first, second = pair
    before = second.dns.queries
    with withdrawn(first) as moved:
        traced = auto_trace(networks, moved.id, asynchronous=asynchronous)
    assert second.dns.queries > before
    assert traced.reachability.verdict is Verdict.CAN_RECEIVE
    assert traced.reachability.network == "second"
    network = traced.steps[0]
    assert (network.name, network.status) == ("network", CheckStatus.PASS)
    assert network.message == "not registered on first; registered on the second network"
    asked = network.details["asked"]
    assert [{k: v for k, v in entry.items() if k != "steps"} for entry in asked] == [
        {"network": "first", "verdict": "not-registered", "failed_step": "dns"},
        {"network": "second", "verdict": "can-receive", "failed_step": None},
    ]
    assert network.details["answered"] == "second"
    # the first network's steps are kept, its DNS denial among them; the second's are the trace's
    assert [s["name"] for s in asked[0]["steps"]] == ["identifier", "sml-name", "dns", "verdict"]
    denied = asked[0]["steps"][2]
    assert (denied["number"], denied["status"]) == (3, "fail")
    assert denied["details"]["answer"]["rcode"] == "NXDOMAIN"
    assert denied["details"]["queries"][0]["port"] == first.network.dns_port
    assert asked[1]["steps"] is None
    assert isinstance(network, NetworkStep)
    assert [t.reachability.network for t in network.others] == ["first"]
    assert pickle.loads(pickle.dumps(traced)) == traced  # the other networks' steps travel too
    html = traced._repr_html_()  # a notebook's table: the first network's rows under step 1
    assert "<em>on the first network: NOT-REGISTERED</em>" in html
    assert "<tr><td>1.3</td><td>✗</td><td>dns</td>" in html
    assert html.count("<tr>") == 1 + len(traced.steps) + 1 + 4
    # the steps after it are the second network's own: its DNS server answered
    dns = traced.step("dns")
    assert dns is not None
    assert dns.status is CheckStatus.PASS
    assert dns.details["queries"][0]["port"] == second.network.dns_port
    assert [s.name for s in traced.steps][-1] == "verdict"


def test_auto_trace_a_fault_on_the_first_does_not_ask_the_second(
    pair: tuple[Sandbox, Sandbox], networks: Networks
) -> None:
    first, second = pair
    pid = participant(first).id
    first.dns.set_fault(pid, "servfail")
    before = second.dns.queries
    try:
        traced = auto_trace(networks, pid, asynchronous=False)
    finally:
        first.dns.set_fault(pid, None)
    assert second.dns.queries == before
    assert traced.reachability.verdict is Verdict.UNKNOWN
    assert traced.reachability.network == "first"
    assert traced.steps[0].status is CheckStatus.SKIPPED
    assert "so second was not asked" in traced.steps[0].message
    assert traced.failed is not None
    assert traced.failed.name == "dns"
    # the first network is the one that answered: its failing step is the trace's own
    data = traced.to_json()
    assert data["steps"][0]["details"]["asked"] == [
        {"network": "first", "verdict": "unknown", "failed_step": "dns", "steps": None}
    ]
    assert (data["failed_step"], data["steps"][3]["name"]) == ("dns", "dns")
    assert data["steps"][3]["details"]["answer"]["rcode"] == "SERVFAIL"
    text = lines(traced)
    assert text[4].startswith("4. ✗ dns: the SML could not be asked: no DNS server could answer")
    assert not any(" network: " in line for line in text[2:])  # no other network shown


@TWINS
def test_auto_trace_shows_the_first_networks_no_before_the_seconds_fault(
    pair: tuple[Sandbox, Sandbox], networks: Networks, asynchronous: bool
) -> None:
    """Why the first said no stays in the trace when the second fails: its DNS step, under a
    heading naming it and its verdict, before the second network's steps - in both languages."""
    first, second = pair
    with withdrawn(first) as moved:
        second.dns.set_fault(moved.id, "servfail")
        try:
            traced = auto_trace(networks, moved.id, asynchronous=asynchronous)
        finally:
            second.dns.set_fault(moved.id, None)
    assert (traced.reachability.verdict, traced.reachability.network) == (Verdict.UNKNOWN, "second")
    assert traced.failed is not None
    assert traced.failed.details["queries"][0]["port"] == second.network.dns_port
    asked = traced.to_json()["steps"][0]["details"]["asked"]
    assert [(a["network"], a["failed_step"]) for a in asked] == [
        ("first", "dns"),
        ("second", "dns"),
    ]
    assert asked[0]["steps"][2]["details"]["answer"]["rcode"] == "NXDOMAIN"
    port = f"to 127.0.0.1:{first.network.dns_port} over UDP: NXDOMAIN"
    shown = {
        "en": ("on the first network: NOT-REGISTERED", "3. ✗ dns: no Peppol registration", port),
        "sv": (
            "i nätverket first: INTE REGISTRERAD",
            "3. ✗ dns: ingen Peppol-registrering hittades",
            port.replace("to", "till").replace("over", "över"),
        ),
    }
    for language, (heading, denial, query) in shown.items():
        text = [line.strip() for line in lines(traced, language)]
        start = text.index(heading)
        assert text[start - 1].startswith("1. - network: ")
        assert text[start + 3].startswith(denial)
        assert text[start + 4].endswith(query)
        # then the second network's own steps, up to its fault
        after = next(i for i, line in enumerate(text) if line.startswith("2. ✓ identifier: "))
        assert after > start + 4
        assert any(line.startswith("4. ✗ dns: ") for line in text[after:])


def test_cli_trace_network_auto(
    networks: Networks,
    pair: tuple[Sandbox, Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``trace --network auto`` as ``lookup --network auto`` (above), in JSON and Swedish."""
    monkeypatch.setattr(peppolnet.network, "auto_networks", lambda: networks)
    with withdrawn(pair[0]) as moved:
        assert main(["trace", str(moved.id), "--network", "auto", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert main(["trace", str(moved.id), "--network", "auto", "--lang", "sv"]) == 0
        swedish_lines = capsys.readouterr().out.splitlines()
    assert data["network"] == "second"
    assert data["steps"][0]["name"] == "network"
    assert data["steps"][0]["details"]["answered"] == "second"
    first_steps = data["steps"][0]["details"]["asked"][0]["steps"]
    assert (first_steps[2]["name"], first_steps[2]["status"]) == ("dns", "fail")
    assert data["steps"][1]["name"] == "identifier"  # the second network's steps, as before
    assert swedish_lines[0].endswith(" i second: KAN TA EMOT")
    assert swedish_lines[1] == (
        " 1. ✓ network: inte registrerad i first; registrerad i nätverket second"
    )
    assert swedish_lines[2] == "      i nätverket first: INTE REGISTRERAD"
    assert swedish_lines[5].startswith("      3. ✗ dns: ingen Peppol-registrering hittades")
    assert main(["trace", str(UNREGISTERED), "--network", "auto"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "1. ✗ network: not registered on any network tried: first, second"
    # the answer given is the first network's (its steps follow); the second's no is shown too
    assert out[2] == "     on the second network: NOT-REGISTERED"
    assert out[5].startswith("     3. ✗ dns: no Peppol registration was found for ")
    first_dns = next(line for line in out if line.startswith("4. "))
    assert first_dns.startswith("4. ✗ dns: no Peppol registration was found for ")
