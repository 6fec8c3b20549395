"""The DNS question's policy object on its own: scripted replies, a hand-moved clock, no sockets.

:class:`peppolnet.dnsquery.Resolution` decides which server to ask next, until when, over UDP or
TCP, and what each reply means; the shells (tests/test_dnsquery.py drives them over real
sockets) only carry its :class:`~peppolnet.dnsquery.Exchange` values. Here the "shell" is a
script of what each exchange brought back.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.dnsquery import Exchange, Resolution
from peppolnet.dnswire import (
    FORMERR,
    NAPTR,
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    BadResponse,
    DnsResponse,
    ForeignResponse,
)
from peppolnet.errors import DnsFailure

NAME = "abc.iso6523-actorid-upis.sml.policy.test"
ANSWER = DnsResponse(NOERROR, False, ttl=60, server="x")
TRUNCATED = DnsResponse(NOERROR, True)

#: What one exchange brings back: a reply, an exception, and how long it took (seconds).
Step = tuple[DnsResponse | BaseException, float]


def drive(
    servers: Sequence[str], steps: Sequence[Step], *, timeout: float = 3.0, tcp: bool = False
) -> tuple[list[tuple[Exchange, float]], DnsResponse | DnsFailure]:
    """Run a resolution against ``steps`` (one per exchange, in order) on a clock starting at 0.

    Returns each exchange with the time it was handed out, and the answer or the failure.
    """
    now = 0.0
    resolution = Resolution(NAME, NAPTR, servers, timeout, tcp=tcp, now=now)
    script = iter(steps)
    sent: list[tuple[Exchange, float]] = []
    while (exchange := resolution.next(now)) is not None:
        sent.append((exchange, now))
        outcome, took = next(script)
        now += took
        if isinstance(outcome, DnsResponse):
            resolution.reply(outcome)
        else:
            resolution.fail(outcome)
    try:
        return sent, resolution.result()
    except DnsFailure as exc:
        return sent, exc


def edns(exchange: Exchange) -> bool:
    return dns.message.from_wire(exchange.message).edns >= 0


def route(sent: list[tuple[Exchange, float]]) -> list[tuple[str, str, bool]]:
    """Who was asked, how, and with EDNS or not."""
    return [(e.server, "tcp" if e.tcp else "udp", edns(e)) for e, _ in sent]


def test_the_first_answer_ends_the_search() -> None:
    sent, got = drive(["a", "b"], [(ANSWER, 0.01)])
    assert got is ANSWER
    assert route(sent) == [("a", "udp", True)]
    exchange = sent[0][0]
    assert (exchange.name, exchange.rdtype, exchange.deadline) == (NAME, NAPTR, 1.5)


@pytest.mark.parametrize("rcode", [NOERROR, NXDOMAIN])
def test_noerror_and_nxdomain_are_answers(rcode: int) -> None:
    reply = DnsResponse(rcode, False)
    sent, got = drive(["a", "b"], [(reply, 0.01)])
    assert got is reply
    assert len(sent) == 1


def test_each_server_gets_an_equal_share_of_what_is_left() -> None:
    # three silent servers: each waits for its share and the last ends at the timeout
    sent, got = drive(["a", "b", "c"], [(TimeoutError(), 1.0)] * 3, timeout=3.0)
    assert [(e.server, at, e.deadline) for e, at in sent] == [
        ("a", 0.0, 1.0),
        ("b", 1.0, 2.0),
        ("c", 2.0, 3.0),
    ]
    assert isinstance(got, DnsFailure)
    assert got.message == (
        f"DNS did not answer for {NAME} within 3 s (a: timed out; b: timed out; c: timed out)"
    )


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (DnsResponse(SERVFAIL, False), "SERVFAIL"),
        (DnsResponse(REFUSED, False), "REFUSED"),
        (DnsResponse(9, False), "NOTAUTH"),
        (DnsResponse(23, False), "RCODE23"),
        (ConnectionRefusedError(), "connection refused"),
        (BadResponse("the DNS reply has 4 octets after its last record"), "after its last"),
        (OSError(101, "Network is unreachable"), "Network is unreachable"),
    ],
)
def test_failures_move_on_at_once_and_time_saved_goes_to_the_rest(
    outcome: DnsResponse | BaseException, said: str
) -> None:
    sent, got = drive(["a", "b"], [(outcome, 0.5), (ANSWER, 0.01)], timeout=3.0)
    assert got is ANSWER
    assert route(sent) == [("a", "udp", True), ("b", "udp", True)]
    assert sent[1][0].deadline == 3.0  # the last server gets all that is left
    sent, got = drive(["a", "b"], [(outcome, 0.5), (TimeoutError(), 2.5)], timeout=3.0)
    assert isinstance(got, DnsFailure)
    assert got.message.startswith(f"no DNS server could answer for {NAME} (a: ")
    assert said in got.message
    assert got.message.endswith("; b: timed out)")


def test_truncated_is_asked_again_over_tcp_within_the_same_share() -> None:
    sent, got = drive(["a", "b"], [(TRUNCATED, 0.1), (ANSWER, 0.1)])
    assert got is ANSWER
    assert route(sent) == [("a", "udp", True), ("a", "tcp", True)]
    assert sent[0][0].deadline == sent[1][0].deadline == 1.5
    assert sent[0][0].query_id.to_bytes(2, "big") == sent[0][0].message[:2]


def test_tcp_from_the_start_and_a_truncated_reply_over_tcp_is_read_as_it_is() -> None:
    still_truncated = DnsResponse(NOERROR, True, ttl=60)
    sent, got = drive(["a"], [(still_truncated, 0.1)], tcp=True)
    assert got is still_truncated
    assert route(sent) == [("a", "tcp", True)]


def test_formerr_to_edns_is_asked_again_without_then_ends_the_turn() -> None:
    formerr = DnsResponse(FORMERR, False)
    sent, got = drive(["a", "b"], [(formerr, 0.1), (ANSWER, 0.1)])
    assert got is ANSWER
    assert route(sent) == [("a", "udp", True), ("a", "udp", False)]
    sent, got = drive(["a", "b"], [(formerr, 0.1), (formerr, 0.1), (ANSWER, 0.1)])
    assert got is ANSWER
    assert route(sent) == [("a", "udp", True), ("a", "udp", False), ("b", "udp", True)]


def test_formerr_after_tcp_fallback_starts_again_on_udp() -> None:
    formerr = DnsResponse(FORMERR, False)
    steps: list[Step] = [(TRUNCATED, 0.1), (formerr, 0.1), (TRUNCATED, 0.1), (ANSWER, 0.1)]
    sent, got = drive(["a"], steps)
    assert got is ANSWER
    assert route(sent) == [
        ("a", "udp", True),
        ("a", "tcp", True),
        ("a", "udp", False),
        ("a", "tcp", False),
    ]


def test_a_failure_of_the_tcp_fallback_ends_the_turn() -> None:
    sent, got = drive(["a", "b"], [(TRUNCATED, 0.1), (ConnectionRefusedError(), 0.1)] * 2)
    assert isinstance(got, DnsFailure)
    assert got.message == (
        f"no DNS server could answer for {NAME} (a: connection refused; b: connection refused)"
    )
    assert len(sent) == 4


def test_a_server_without_time_left_is_not_asked() -> None:
    # the first server's exchange overran the whole timeout (a slow shell): the second is not
    # sent anything it could not answer in time, and is listed as timed out
    sent, got = drive(["a", "b"], [(TimeoutError(), 5.0)], timeout=3.0)
    assert [e.server for e, _ in sent] == ["a"]
    assert isinstance(got, DnsFailure)
    assert got.message.endswith("(a: timed out; b: timed out)")


def test_no_servers_is_a_failure_without_an_exchange() -> None:
    sent, got = drive([], [])
    assert sent == []
    assert isinstance(got, DnsFailure)


def test_after_the_answer_there_is_nothing_more_to_send() -> None:
    resolution = Resolution(NAME, NAPTR, ["a"], 1.0, tcp=False, now=0.0)
    assert resolution.next(0.0) is not None
    resolution.reply(ANSWER)
    assert resolution.next(0.1) is None
    assert resolution.next(0.2) is None
    assert resolution.result() is ANSWER


# --- reading a reply -----------------------------------------------------------------------------


def reply_to(exchange: Exchange, *, question: str | None = None, qid: int | None = None) -> bytes:
    query = dns.message.from_wire(exchange.message)
    if question is not None:
        query = dns.message.make_query(question, "NAPTR", id=query.id)
    msg = dns.message.make_response(query)
    if qid is not None:
        msg.id = qid
    record = '100 10 "U" "Meta:SMP" "!.*!https://smp.policy.test!" .'
    msg.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "NAPTR", record))
    return msg.to_wire()


def first(tcp: bool = False) -> Exchange:
    exchange = Resolution(NAME, NAPTR, ["192.0.2.1"], 1.0, tcp=tcp, now=0.0).next(0.0)
    assert exchange is not None
    return exchange


def test_an_exchange_reads_its_reply_and_names_the_server() -> None:
    exchange = first()
    response = exchange.read(reply_to(exchange))
    assert (response.rcode, response.ttl, response.server) == (NOERROR, 60, "192.0.2.1")
    assert response.naptr[0].regexp == "!.*!https://smp.policy.test!"


def test_a_foreign_reply_over_udp_is_ignorable_and_over_tcp_a_fault() -> None:
    udp = first()
    other_id = (udp.query_id + 1) % 65536
    for foreign in (reply_to(udp, qid=other_id), reply_to(udp, question="other.policy.test")):
        with pytest.raises(ForeignResponse):
            udp.read(foreign)
    tcp = first(tcp=True)
    with pytest.raises(BadResponse, match="the reply over TCP is not for this query") as info:
        tcp.read(reply_to(tcp, qid=(tcp.query_id + 1) % 65536))
    assert not isinstance(info.value, ForeignResponse)  # not to be waited out: a broken server


def test_a_renumbered_exchange_is_the_same_query_under_another_id() -> None:
    exchange = first()
    again = exchange.renumbered()
    while again.query_id == exchange.query_id:  # 1 in 65,536: draw again
        again = again.renumbered()
    assert again.message[2:] == exchange.message[2:]
    assert again.message[:2] == again.query_id.to_bytes(2, "big")
    assert (again.server, again.tcp, again.deadline) == (exchange.server, False, 1.0)
    assert again.read(reply_to(again)).rcode == NOERROR
    with pytest.raises(ForeignResponse):
        exchange.read(reply_to(again))


def test_edns_queries_advertise_1232_octets() -> None:
    assert dns.message.from_wire(first().message).payload == 1232


# --- the policy as a property --------------------------------------------------------------------

OUTCOMES = st.sampled_from(
    [
        ANSWER,
        DnsResponse(NXDOMAIN, False),
        TRUNCATED,
        DnsResponse(FORMERR, False),
        DnsResponse(SERVFAIL, False),
        DnsResponse(REFUSED, False),
        TimeoutError(),
        ConnectionRefusedError(),
        BadResponse("broken"),
    ]
)


@given(
    servers=st.integers(1, 4),
    steps=st.lists(st.tuples(OUTCOMES, st.floats(0.0, 2.0)), min_size=16, max_size=16),
    tcp=st.booleans(),
)
def test_every_server_is_asked_at_most_four_times_and_never_past_the_deadline(
    servers: int, steps: list[Step], tcp: bool
) -> None:
    names = [f"10.0.0.{n}" for n in range(servers)]
    sent, got = drive(names, steps, timeout=3.0, tcp=tcp)
    assert all(exchange.deadline <= 3.0 for exchange, _ in sent)
    assert all(at < exchange.deadline for exchange, at in sent)  # asked only with time left
    for name in names:  # UDP and TCP, with and without EDNS, at the most
        assert len([e for e, _ in sent if e.server == name]) <= 4
    assert [e.server for e, _ in sent] == sorted(e.server for e, _ in sent)  # in order, no return
    if isinstance(got, DnsFailure):  # every server's outcome, once each, in order
        listed = got.message[got.message.index("(") + 1 : -1].split("; ")
        assert [item.split(": ")[0] for item in listed] == names
    else:
        assert got.rcode in (NOERROR, NXDOMAIN)
        assert not (got.truncated and not sent[-1][0].tcp)  # a TC reply over UDP is no answer
