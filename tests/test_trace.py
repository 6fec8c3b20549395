"""``Lookup.trace`` on the sandbox: every step in order, the same verdict as ``check``, both
twins, JSON, the human list and the CLI. The failures, step by step: test_trace_failures.py."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from _participants import plain, quirky
from peppolnet import _observe
from peppolnet.cli import main
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.sml import naptr_label
from peppolnet.trace import STEP_NAMES, Trace

HAPPY = [
    "identifier",
    "sml-name",
    "dns",
    "smp-url",
    "smp-host",
    "tls",
    "http",
    "service-metadata",
    "signature",
    "smp-certificate",
    "endpoint",
    "ap-certificate",
    "verdict",
]


@pytest.fixture(scope="module")
def traced(sandbox: Sandbox) -> Iterator[tuple[ParticipantId, Trace]]:
    """A trace of a participant that can receive, from a fresh lookup (new connections)."""
    pid = plain(sandbox)
    with Lookup(sandbox.network) as lookup:
        yield pid, lookup.trace(pid)


def test_every_step_in_order(traced: tuple[ParticipantId, Trace]) -> None:
    _, trace = traced
    assert [s.name for s in trace.steps] == HAPPY
    assert all(s.status is CheckStatus.PASS for s in trace.steps)
    assert trace.failed is None
    assert set(HAPPY) <= set(STEP_NAMES)
    # the steps with I/O of their own carry a time; a pure one does not
    assert all(trace.step(n).elapsed is not None for n in ("dns", "http", "service-metadata"))
    assert trace.step("identifier").elapsed is None


def test_the_verdict_is_the_lookups(sandbox: Sandbox, traced: tuple[ParticipantId, Trace]) -> None:
    pid, trace = traced
    with Lookup(sandbox.network) as lookup:
        plain = lookup.check(pid)
    assert trace.reachability.verdict is Verdict.CAN_RECEIVE
    assert [c.name for c in trace.reachability.checks] == [c.name for c in plain.checks]
    assert trace.reachability.operator == plain.operator
    verdict = trace.step("verdict")
    assert verdict is not None
    assert verdict.message == plain.reason


def test_the_identifier_and_its_sml_name(
    sandbox: Sandbox, traced: tuple[ParticipantId, Trace]
) -> None:
    pid, trace = traced
    identifier = trace.step("identifier")
    assert identifier is not None
    assert identifier.details["participant_id"] == pid.uri
    assert identifier.details["icd"] == pid.icd
    name = trace.step("sml-name")
    assert name is not None
    label = naptr_label(pid.value)
    assert name.details["label"] == label
    assert name.details["name"] == f"{label}.{pid.scheme}.{sandbox.config.zone}"
    assert name.details["hash"] == "sha256-base32"
    assert f'base32(sha256("{pid.value.lower()}"))' in name.message


def test_the_dns_question_and_answer(sandbox: Sandbox, traced: tuple[ParticipantId, Trace]) -> None:
    _, trace = traced
    dns = trace.step("dns")
    assert dns is not None
    assert dns.details["question"]["type"] == "NAPTR"
    assert dns.details["resolver"] == {"nameservers": ["127.0.0.1"], "port": sandbox.dns.port}
    [query] = dns.details["queries"]
    assert (query["server"], query["transport"], query["rcode"]) == ("127.0.0.1", "udp", "NOERROR")
    answer = dns.details["answer"]
    assert answer["rcode"] == "NOERROR"
    assert answer["ad"] is False  # the sandbox does not validate
    assert answer["ttl"] == sandbox.dns.ttl
    assert answer["aliases"] == []
    [record] = answer["records"]
    assert '"U" "Meta:SMP"' in record
    url = trace.step("smp-url")
    assert url is not None
    assert url.details["https"] is True
    assert url.details["url"] in record


def test_the_connection_and_its_tls(sandbox: Sandbox, traced: tuple[ParticipantId, Trace]) -> None:
    _, trace = traced
    host = trace.step("smp-host")
    assert host is not None
    assert host.details["addresses"] == ["127.0.0.1"]  # the sync transport resolves every host
    assert str(host.details["connected_to"]).startswith("127.0.0.1:")
    tls = trace.step("tls")
    assert tls is not None
    assert tls.details["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert "127.0.0.1" in tls.details["server_certificate"]["names"]
    assert tls.details["chain"] == [sandbox.pki.root.subject.rfc4514_string()]
    assert tls.details["trust_store"]["path"] == str(sandbox.tls_ca_path)
    # the handshake was timed where the connection was opened, inside the request's own time
    http = trace.step("http")
    assert http is not None
    assert tls.details["connection_reused"] is False
    assert tls.elapsed is not None
    assert http.elapsed is not None
    assert 0 < tls.elapsed < http.elapsed
    assert tls.details["handshake_ms"] == round(tls.elapsed * 1000, 2)
    line = next(line for line in str(trace).splitlines() if " tls: " in line)
    assert line.endswith(f"({tls.elapsed * 1000:.1f} ms)")
    assert (http.details["method"], http.details["status"]) == ("GET", 200)
    assert http.details["body_bytes"] > 0
    assert http.details["headers"]["content-type"].startswith("application/xml")


def test_the_signature_and_certificates(
    sandbox: Sandbox, traced: tuple[ParticipantId, Trace]
) -> None:
    _, trace = traced
    signature = trace.step("signature")
    assert signature is not None
    assert (signature.details["algorithm"], signature.details["digest"]) == (
        "rsa-sha256",
        "sha256",
    )
    assert signature.details["c14n"] in ("c14n", "exc-c14n", "c14n11")
    smp = trace.step("smp-certificate")
    assert smp is not None
    assert smp.details["chain"][-1] == sandbox.pki.smp_ca.subject.rfc4514_string()
    ap = trace.step("ap-certificate")
    assert ap is not None
    assert ap.details["certificate"]["seat_id"] == trace.reachability.operator.seat_id
    endpoint = trace.step("endpoint")
    assert endpoint is not None
    assert endpoint.details["chosen"]["transport_profile"] == "peppol-transport-as4-v2_0"


def test_to_json_is_one_plain_object(traced: tuple[ParticipantId, Trace]) -> None:
    _, trace = traced
    data = json.loads(json.dumps(trace.to_json()))  # plain data all the way down
    assert data["verdict"] == "can-receive"
    assert data["failed_step"] is None
    assert [s["number"] for s in data["steps"]] == list(range(1, len(HAPPY) + 1))
    assert set(data["steps"][0]) == {
        "number", "name", "status", "message", "elapsed_ms", "retryable", "details", "checks",
    }  # fmt: skip
    assert data["reachability"]["verdict"] == "can-receive"


def test_str_and_html(traced: tuple[ParticipantId, Trace]) -> None:
    pid, trace = traced
    text = str(trace).splitlines()
    assert text[0] == f"{pid.uri} on sandbox: CAN-RECEIVE"
    assert text[1].startswith(" 1. ✓ identifier: ")
    assert any(line.startswith("13. ✓ verdict: ") for line in text)
    html = trace._repr_html_()
    assert html.count("<tr>") == len(trace.steps) + 1
    assert "<script" not in html


def test_nobody_watches_after_a_trace(sandbox: Sandbox) -> None:
    """The observer is the trace's only while it runs: a plain lookup after it is not watched."""
    with Lookup(sandbox.network) as lookup:
        lookup.trace(plain(sandbox))
        assert _observe.current() is None
        assert lookup.check(plain(sandbox)).can_receive


def test_a_trace_asks_dns_although_the_answer_is_cached(sandbox: Sandbox) -> None:
    pid = plain(sandbox)
    with Lookup(sandbox.network) as lookup:
        lookup.check(pid)  # now in the resolver's cache
        before = sandbox.dns.queries
        trace = lookup.trace(pid)
    assert sandbox.dns.queries > before
    dns = trace.step("dns")
    assert dns is not None
    assert dns.details["from_cache"] is False
    # the connection kept open from the check shows no address lookup, only where it goes
    host = trace.step("smp-host")
    assert host is not None
    assert host.details["addresses"] is None
    # ... and its handshake as it was then, not as time this trace spent
    tls = trace.step("tls")
    assert tls is not None
    assert tls.details["connection_reused"] is True
    assert tls.elapsed is None
    assert tls.details["handshake_ms"] > 0
    assert "when an earlier request opened the connection" in str(trace)


def test_the_async_twin_records_the_same_steps(sandbox: Sandbox) -> None:
    pid = plain(sandbox)

    async def trace() -> Trace:
        async with AsyncLookup(sandbox.network) as lookup:
            return await lookup.trace(pid)

    traced = asyncio.run(trace())
    assert [s.name for s in traced.steps] == HAPPY
    tls = traced.step("tls")
    assert tls is not None
    assert tls.details["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert "127.0.0.1" in tls.details["server_certificate"]["names"]
    # aiohttp's handshake, timed by the context's SSL object
    http = traced.step("http")
    assert http is not None
    assert http.elapsed is not None
    assert tls.details["connection_reused"] is False
    assert tls.elapsed is not None
    assert 0 < tls.elapsed < http.elapsed
    host = traced.step("smp-host")
    assert host is not None
    assert str(host.details["connected_to"]).startswith("127.0.0.1:")


def test_a_wildcard_or_listed_lookup_shows_the_service_group(sandbox: Sandbox) -> None:
    pid = plain(sandbox)
    with Lookup(sandbox.network, list_document_types=True) as lookup:
        trace = lookup.trace(pid)
    # the lookup's own option is honoured: the list comes first, on the same connection
    names = [s.name for s in trace.steps]
    assert names.index("service-group") < names.index("service-metadata")
    group = trace.step("service-group")
    assert group is not None
    assert len(group.details["document_types"]) >= 1


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def state(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(sandbox.info(), tmp_path_factory.mktemp("trace") / "sandbox.json")


def _cli(state: Path, *argv: str) -> list[str]:
    return ["trace", *argv, "--network", "sandbox", "--state-file", str(state)]


def test_cli_prints_a_numbered_list(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = plain(sandbox)
    assert main(_cli(state, pid.bare)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": CAN-RECEIVE")
    numbered = [line for line in out if line[:3].strip().rstrip(".").isdigit()]
    assert [line.split()[2].rstrip(":") for line in numbered] == HAPPY


def test_cli_json_is_one_object(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = quirky(sandbox, "missing-document-type")
    assert main(_cli(state, pid.bare, "--json")) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "cannot-receive"
    assert data["failed_step"] == "service-metadata"
    assert data["steps"][-1]["name"] == "verdict"


def test_cli_document_type_option(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = plain(sandbox)
    assert main(_cli(state, pid.bare, "--document-type", "credit-note", "--json")) == 0
    assert "CreditNote" in json.loads(capsys.readouterr().out)["document_type"]


def test_cli_speaks_swedish(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = plain(sandbox)
    assert main(_cli(state, pid.bare, "--lang", "sv")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{pid.uri} i sandbox: KAN TA EMOT"
    assert out[1].startswith(" 1. ✓ identifier: tolkas som ")
    assert any(" ✓ tls: TLSv1." in line and "serverns certifikat" in line for line in out)
    assert main(_cli(state, pid.bare, "--lang", "klingon")) == 2
    assert "unknown language 'klingon'" in capsys.readouterr().err


def test_lines_in_either_language(traced: tuple[ParticipantId, Trace]) -> None:
    from peppolnet.trace.render import lines

    _, trace = traced
    english, swedish = lines(trace, "en"), lines(trace, "sv")
    assert len(english) == len(swedish)
    assert english == str(trace).splitlines()
    assert swedish[3].startswith(" 3. ✓ dns: 127.0.0.1 svarade NOERROR med 1 post(er)")
    # each step's time with the language's decimal mark: "(1.2 ms)", "(1,2 ms)"
    assert re.search(r"\(\d+\.\d ms\)$", english[3])
    assert re.search(r"\(\d+,\d ms\)$", swedish[3])


def test_steps_written_late_are_as_recorded(sandbox: Sandbox) -> None:
    """A lookup's trace writes its steps when they are first read; they must be what was
    recorded then: the verdict's time is the lookup's, not the reader's, and a second lookup on
    the same objects in between changes nothing."""
    import pickle
    import time

    pid = plain(sandbox)
    with Lookup(sandbox.network) as lookup:
        started = time.perf_counter()
        trace = lookup.trace(pid)
        took = time.perf_counter() - started
        other = next(p.id for p in sandbox.config.participants if not p.in_sml)
        later = lookup.trace(other)  # the same lookup, resolver and connections: not found
        time.sleep(0.3)  # the reader comes late (a wide margin over the lookup's own time)
        steps = trace.steps
        assert [s.name for s in steps] == HAPPY
        verdict = trace.step("verdict")
        assert verdict is not None
        assert verdict.elapsed is not None
        assert verdict.elapsed <= took  # measured when the lookup ended, not when read
        assert trace.steps is steps  # written once
        assert later.reachability.verdict is not Verdict.CAN_RECEIVE
        assert trace.reachability.verdict is Verdict.CAN_RECEIVE
    again = pickle.loads(pickle.dumps(trace))
    assert again == trace
    assert again.to_json() == trace.to_json()
    with pytest.raises(AttributeError):
        trace.reachability = later.reachability  # type: ignore[misc]
