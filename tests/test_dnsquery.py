"""The DNS transport over real sockets on 127.0.0.x: the sandbox DNS server for the normal
cases, and small hand-written servers for what it cannot do (truncate, spoof, refuse EDNS)."""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import selectors
import socket
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from peppolnet.dnsquery import (
    _RANDOM,
    POOL_SIZE,
    ROTATE_AFTER,
    UdpEndpoints,
    _describe,
    ask,
    ask_async,
)
from peppolnet.dnswire import NAPTR, NXDOMAIN, DnsResponse
from peppolnet.errors import DnsFailure
from peppolnet.i18n import render
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sml import AsyncSmlResolver, SmlResolver, naptr_name

ZONE = "sml.transport.test"
FOUND = ParticipantId.parse("0007:5567321707")
MISSING = ParticipantId.parse("0007:9999999999")
SMP = "https://smp.transport.test"
NAME = naptr_name(FOUND, ZONE)
REAL = '100 10 "U" "Meta:SMP" "!.*!https://real.example!" .'
FORGED = '100 10 "U" "Meta:SMP" "!.*!https://forged.example!" .'

Reply = Callable[[dns.message.Message], list[bytes]]


def answer(query: dns.message.Message, record: str = REAL) -> dns.message.Message:
    msg = dns.message.make_response(query)
    msg.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "NAPTR", record))
    return msg


class FakeDns:
    """A tiny nameserver in a thread: ``on_udp(query)`` returns the datagrams to send back
    (in order), ``on_tcp(query)`` the TCP reply; it records every client address."""

    def __init__(
        self, host: str, port: int = 0, on_udp: Reply | None = None, on_tcp: Reply | None = None
    ) -> None:
        self.udp, self.tcp = _udp_and_tcp(host, port)
        self.port = self.udp.getsockname()[1]
        self.spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.spoofer.bind((host, 0))
        self.on_udp = on_udp or (lambda q: [answer(q).to_wire()])
        self.on_tcp = on_tcp or (lambda q: [answer(q).to_wire()])
        self.clients: list[tuple[str, int]] = []
        self.tcp_queries = 0
        self.spoof_first: bytes | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ)
        sel.register(self.tcp, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(0.05):
                if key.fileobj is self.udp:
                    data, addr = self.udp.recvfrom(65535)
                    self.clients.append(addr)
                    query = dns.message.from_wire(data)
                    if self.spoof_first is not None:  # from another port: must be ignored
                        self.spoofer.sendto(self._with_id(self.spoof_first, query.id), addr)
                    for datagram in self.on_udp(query):
                        self.udp.sendto(datagram, addr)
                else:
                    conn, _ = self.tcp.accept()
                    with conn:
                        conn.settimeout(2)
                        size = struct.unpack("!H", conn.recv(2))[0]
                        query = dns.message.from_wire(conn.recv(size))
                        self.tcp_queries += 1
                        for reply in self.on_tcp(query):
                            conn.sendall(struct.pack("!H", len(reply)) + reply)
        sel.close()

    @staticmethod
    def _with_id(wire: bytes, qid: int) -> bytes:
        return struct.pack("!H", qid) + wire[2:]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for sock in (self.udp, self.tcp, self.spoofer):
            sock.close()


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer([ZONE], ttl=60) as srv:
        srv.add_participant(FOUND, SMP)
        yield srv


def _udp_and_tcp(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on one port. With port 0 the kernel picks the UDP port, and that
    number may be taken for TCP by another process on a busy machine: then pick again."""
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(16)
        return udp, tcp
    raise OSError(f"no port on {host} was free for both UDP and TCP")


def fake(host: str = "127.0.0.1", port: int = 0, **kw: Reply) -> FakeDns:
    return FakeDns(host, port, **kw)


@pytest.fixture
def cleanup() -> Iterator[list[FakeDns]]:
    made: list[FakeDns] = []
    yield made
    for item in made:
        item.close()


def smp_of(response: DnsResponse) -> str:
    return response.naptr[0].regexp.split("!")[2]


# --- both twins, one policy ------------------------------------------------------------------


def run_both(
    name: str, servers: list[str], port: int, timeout: float, tcp: bool = False
) -> list[DnsResponse | DnsFailure]:
    """The sync and the async answer to the same question (or the failure each raised)."""
    results: list[DnsResponse | DnsFailure] = []
    try:
        results.append(ask(name, NAPTR, servers, port, timeout, tcp=tcp))
    except DnsFailure as exc:
        results.append(exc)

    async def go() -> DnsResponse:
        udp = UdpEndpoints()
        try:
            return await ask_async(name, NAPTR, servers, port, timeout, tcp=tcp, udp=udp)
        finally:
            await udp.aclose()

    try:
        results.append(asyncio.run(go()))
    except DnsFailure as exc:
        results.append(exc)
    return results


@pytest.mark.parametrize("tcp", [False, True])
def test_answer_and_nxdomain(server: DnsServer, tcp: bool) -> None:
    for got in run_both(NAME, ["127.0.0.1"], server.port, 1.0, tcp=tcp):
        assert isinstance(got, DnsResponse)
        assert smp_of(got) == SMP
    for got in run_both(naptr_name(MISSING, ZONE), ["127.0.0.1"], server.port, 1.0, tcp=tcp):
        assert isinstance(got, DnsResponse)
        assert got.rcode == NXDOMAIN
        assert got.negative_ttl == 60


def test_silence_times_out_within_the_timeout(server: DnsServer) -> None:
    server.set_fault(None, "silence")
    started = time.perf_counter()
    for got in run_both(NAME, ["127.0.0.1"], server.port, 0.5):
        assert isinstance(got, DnsFailure)
        assert "did not answer" in got.message
        assert "127.0.0.1: timed out" in got.message
    # each run gives up at its 0.5 s timeout; only a run that ignored it would come near 5 s
    assert time.perf_counter() - started < 5


def test_next_server_after_silence_and_servfail(cleanup: list[FakeDns]) -> None:
    with DnsServer([ZONE], host="127.0.0.1") as good:
        good.add_participant(FOUND, SMP)
        silent = fake("127.0.0.2", good.port, on_udp=lambda q: [])
        cleanup.append(silent)
        started = time.perf_counter()
        for got in run_both(NAME, ["127.0.0.2", "127.0.0.1"], good.port, 1.0):
            assert isinstance(got, DnsResponse), got
            assert smp_of(got) == SMP
        # each run waited for the silent server (at least half its timeout) and still had time
        # left for the next one: the answers above prove that it did not wait the whole second
        assert time.perf_counter() - started > 0.9
        silent.on_udp = lambda q: [_rcode(q, dns.rcode.SERVFAIL)]
        started = time.perf_counter()
        for got in run_both(NAME, ["127.0.0.2", "127.0.0.1"], good.port, 8.0):
            assert isinstance(got, DnsResponse)
        # SERVFAIL moves on at once; waiting for it would cost half the 8 s timeout per run
        assert time.perf_counter() - started < 4


def _first_label(query: dns.message.Message) -> str:
    return str(query.question[0].name.labels[0].decode())


def _rcode(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    msg = dns.message.make_response(query)
    msg.set_rcode(rcode)
    return msg.to_wire()


def test_every_failure_is_listed(cleanup: list[FakeDns]) -> None:
    refusing = fake("127.0.0.1", on_udp=lambda q: [_rcode(q, dns.rcode.REFUSED)])
    cleanup.append(refusing)
    cleanup.append(fake("127.0.0.2", refusing.port, on_udp=lambda q: [b"\x00"]))
    for got in run_both(NAME, ["127.0.0.1", "127.0.0.2"], refusing.port, 0.4):
        assert isinstance(got, DnsFailure)
        assert got.retryable is True
        assert "127.0.0.1: REFUSED" in got.message
        assert "127.0.0.2: timed out" in got.message  # a 1-octet datagram is not a reply


def test_every_failure_is_listed_in_swedish_too(cleanup: list[FakeDns]) -> None:
    """The servers' outcomes joined stay messages: a Swedish answer says each in Swedish."""
    refusing = fake("127.0.0.1", on_udp=lambda q: [_rcode(q, dns.rcode.REFUSED)])
    cleanup.append(refusing)
    cleanup.append(fake("127.0.0.2", refusing.port, on_udp=lambda q: [b"\x00"]))
    got = run_both(NAME, ["127.0.0.1", "127.0.0.2"], refusing.port, 0.4)[0]
    assert isinstance(got, DnsFailure)
    swedish = render(got.message, "sv")
    assert "127.0.0.1: REFUSED" in swedish
    assert "127.0.0.2:" in swedish
    assert "timed out" not in swedish


@pytest.mark.parametrize(
    ("number", "says"),
    [
        (errno.ENETUNREACH, "nätverket går inte att nå"),
        (errno.EHOSTUNREACH, "det finns ingen väg till värden"),
    ],
)
def test_an_os_error_is_said_in_the_catalog_words(number: int, says: str) -> None:
    """The OS's own text is English: a known cause is said in the answer's language, the raw
    text kept after it for whoever debugs it."""
    said = _describe(OSError(number, os.strerror(number)))
    assert says in render(said, "sv")
    assert os.strerror(number) in str(said)


def test_nothing_listening_fails_fast() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    for got in run_both(NAME, ["127.0.0.1"], port, 8.0):
        assert isinstance(got, DnsFailure)
        assert "connection refused" in got.message
    # the ICMP error ends each run; the timeout would cost 16 s for the two
    assert time.perf_counter() - started < 8


def test_truncated_udp_is_asked_again_over_tcp(cleanup: list[FakeDns]) -> None:
    def truncated(query: dns.message.Message) -> list[bytes]:
        msg = dns.message.make_response(query)
        msg.flags |= dns.flags.TC
        return [msg.to_wire()]

    srv = fake(on_udp=truncated)
    cleanup.append(srv)
    for got in run_both(NAME, ["127.0.0.1"], srv.port, 1.0):
        assert isinstance(got, DnsResponse)
        assert smp_of(got) == "https://real.example"
    assert srv.tcp_queries == 2
    assert len(srv.clients) == 2


def test_a_reply_still_truncated_over_tcp_is_a_fault_not_a_no(cleanup: list[FakeDns]) -> None:
    """Regression (review): an empty TC reply over TCP read as NOERROR without records, i.e.
    "not registered" - a fault turned into a negative answer."""

    def truncated(query: dns.message.Message) -> list[bytes]:
        msg = dns.message.make_response(query)
        msg.flags |= dns.flags.TC
        return [msg.to_wire()]

    srv = fake(on_udp=truncated, on_tcp=truncated)
    cleanup.append(srv)
    for tcp in (False, True):
        for got in run_both(NAME, ["127.0.0.1"], srv.port, 1.0, tcp=tcp):
            assert isinstance(got, DnsFailure)
            assert "truncated" in got.message


def test_formerr_to_edns_is_asked_again_without(cleanup: list[FakeDns]) -> None:
    def old_server(query: dns.message.Message) -> list[bytes]:
        if query.edns >= 0:
            return [_rcode(query, dns.rcode.FORMERR)]
        return [answer(query).to_wire()]

    srv = fake(on_udp=old_server)
    cleanup.append(srv)
    for got in run_both(NAME, ["127.0.0.1"], srv.port, 1.0):
        assert isinstance(got, DnsResponse)
        assert smp_of(got) == "https://real.example"
    assert len(srv.clients) == 4


def test_queries_on_the_wire_advertise_1232_octets(cleanup: list[FakeDns]) -> None:
    payloads: list[int] = []

    def record(query: dns.message.Message) -> list[bytes]:
        payloads.append(query.payload if query.edns >= 0 else -1)
        return [answer(query).to_wire()]

    srv = fake(on_udp=record)
    cleanup.append(srv)
    for got in run_both(NAME, ["127.0.0.1"], srv.port, 1.0):
        assert isinstance(got, DnsResponse)
    assert payloads == [1232, 1232]  # sync and async


def test_the_resolver_keeps_a_cname_chain_for_its_shortest_ttl(cleanup: list[FakeDns]) -> None:
    """A hop's TTL counts: the SML answer (and its cache entry) lives as long as the shortest
    TTL on the way to the NAPTR records, not as long as the records at the end."""

    def chained(query: dns.message.Message) -> list[bytes]:
        msg = dns.message.make_response(query)
        owner = query.question[0].name
        msg.answer.append(dns.rrset.from_text(owner, 3600, "IN", "CNAME", f"mid.{ZONE}."))
        msg.answer.append(dns.rrset.from_text(f"mid.{ZONE}.", 40, "IN", "CNAME", f"end.{ZONE}."))
        msg.answer.append(dns.rrset.from_text(f"end.{ZONE}.", 3600, "IN", "NAPTR", REAL))
        return [msg.to_wire()]

    srv = fake(on_udp=chained)
    cleanup.append(srv)
    options: dict[str, object] = {"nameservers": ["127.0.0.1"], "port": srv.port, "timeout": 1.0}
    resolver = SmlResolver(ZONE, **options)  # type: ignore[arg-type]
    first = resolver.resolve(FOUND)
    assert (first.smp_url, first.ttl, first.from_cache) == ("https://real.example", 40, False)
    again = resolver.resolve(FOUND)
    assert again.from_cache
    assert again.ttl <= 40

    async def go() -> int:
        resolver = AsyncSmlResolver(ZONE, **options)  # type: ignore[arg-type]
        try:
            return (await resolver.resolve(FOUND)).ttl
        finally:
            await resolver.aclose()

    assert asyncio.run(go()) == 40


def test_spoofed_and_unrelated_replies_are_ignored(cleanup: list[FakeDns]) -> None:
    def noisy(query: dns.message.Message) -> list[bytes]:
        wrong_id = answer(query, FORGED)
        wrong_id.id = (query.id + 1) % 65536
        other_question = dns.message.make_response(
            dns.message.make_query(f"forged.{ZONE}.", "NAPTR", id=query.id)
        )
        other_question.answer.append(
            dns.rrset.from_text(f"forged.{ZONE}.", 60, "IN", "NAPTR", FORGED)
        )
        not_a_response = answer(query, FORGED)
        not_a_response.flags &= ~dns.flags.QR
        return [
            wrong_id.to_wire(),
            other_question.to_wire(),
            not_a_response.to_wire(),
            struct.pack("!H", (query.id + 1) % 65536) + b"garbage",
            answer(query).to_wire(),
        ]

    srv = fake(on_udp=noisy)
    cleanup.append(srv)
    srv.spoof_first = answer(dns.message.make_query(NAME, "NAPTR"), FORGED).to_wire()
    for got in run_both(NAME, ["127.0.0.1"], srv.port, 1.0):
        assert isinstance(got, DnsResponse), got
        assert smp_of(got) == "https://real.example"


def test_malformed_reply_to_our_question_moves_on(cleanup: list[FakeDns]) -> None:
    broken = fake(on_udp=lambda q: [answer(q).to_wire() + b"junk"])
    cleanup.append(broken)
    for got in run_both(NAME, ["127.0.0.1"], broken.port, 0.5):
        assert isinstance(got, DnsFailure)
        assert "after its last record" in got.message


# --- the shared socket -------------------------------------------------------------------------


async def test_concurrent_queries_share_one_socket(cleanup: list[FakeDns]) -> None:
    srv = fake()
    cleanup.append(srv)
    udp = UdpEndpoints()
    names = [naptr_name(ParticipantId.parse(f"0007:{n:010d}"), ZONE) for n in range(200)]
    results = await asyncio.gather(
        *(ask_async(n, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp) for n in names)
    )
    assert all(smp_of(r) == "https://real.example" for r in results)
    assert len(srv.clients) == 200
    assert len(set(srv.clients)) == POOL_SIZE  # a small pool of source ports, shared
    await udp.aclose()
    again = await ask_async(NAME, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)
    assert smp_of(again) == "https://real.example"
    assert srv.clients[-1] != srv.clients[0]  # closed, so a fresh socket
    await udp.aclose()


async def test_shared_sockets_are_rotated_to_fresh_ports(cleanup: list[FakeDns]) -> None:
    """No source port carries more than ROTATE_AFTER queries, and retired sockets are closed."""
    from collections import Counter

    srv = fake()
    cleanup.append(srv)
    udp = UdpEndpoints()
    total = POOL_SIZE * ROTATE_AFTER + 300
    names = [naptr_name(ParticipantId.parse(f"0007:{n:010d}"), ZONE) for n in range(total)]
    for start in range(0, total, 64):
        batch = names[start : start + 64]
        await asyncio.gather(
            *(ask_async(n, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp) for n in batch)
        )
    per_port = Counter(srv.clients)
    assert len(srv.clients) == total
    assert max(per_port.values()) <= ROTATE_AFTER
    assert len(per_port) > POOL_SIZE  # fresh ports replaced the retired ones
    loop = asyncio.get_running_loop()
    retired = udp._retiring.get(loop, set())
    assert all(endpoint.closed for endpoint in retired)  # each closed after its last reply
    await udp.aclose()


@pytest.mark.parametrize("max_age", [0.0, float("inf")])
async def test_a_shared_socket_past_its_age_takes_no_new_query(
    cleanup: list[FakeDns], monkeypatch: pytest.MonkeyPatch, max_age: float
) -> None:
    """A pooled port lives at most MAX_AGE seconds (then the next query picking it gets a fresh
    socket on a new port), however few queries it carried; the old socket is closed."""
    import peppolnet.dnsquery

    monkeypatch.setattr(peppolnet.dnsquery, "POOL_SIZE", 1)
    monkeypatch.setattr(peppolnet.dnsquery, "MAX_AGE", max_age)
    srv = fake()
    cleanup.append(srv)
    udp = UdpEndpoints()
    loop = asyncio.get_running_loop()
    used = []  # the socket that carried each query
    for n in range(3):
        name = naptr_name(ParticipantId.parse(f"0007:{n:010d}"), ZONE)
        got = await ask_async(name, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)
        assert smp_of(got) == "https://real.example"
        (pool,) = udp._by_loop[loop].values()
        used.extend(pool)
    if max_age == 0.0:  # each query found the one socket too old: three sockets, three ports
        assert len(set(srv.clients)) == 3
        assert len(set(map(id, used))) == 3
        assert all(endpoint.closed for endpoint in used[:2])
    else:
        assert len(set(srv.clients)) == 1
        assert used[0] is used[1] is used[2]
    await udp.aclose()


async def test_replies_reach_the_right_query_out_of_order(
    cleanup: list[FakeDns], monkeypatch: pytest.MonkeyPatch
) -> None:
    import peppolnet.dnsquery

    # one shared socket, so the fake server's burst of answers reaches every query's socket
    monkeypatch.setattr(peppolnet.dnsquery, "POOL_SIZE", 1)
    held: list[dns.message.Message] = []

    def hold(query: dns.message.Message) -> list[bytes]:
        held.append(query)
        if len(held) < 3:
            return []
        # all three answers at once, newest first, each naming its own question's first label
        return [answer(q, REAL.replace("real", _first_label(q))).to_wire() for q in held[::-1]]

    srv = fake(on_udp=hold)
    cleanup.append(srv)
    udp = UdpEndpoints()
    names = [naptr_name(ParticipantId.parse(f"0007:{n:010d}"), ZONE) for n in range(3)]
    tasks = []
    for n in names:
        query = ask_async(n, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)
        tasks.append(asyncio.ensure_future(query))
        await asyncio.sleep(0.02)
    results = await asyncio.gather(*tasks)
    for name, got in zip(names, results, strict=True):
        assert smp_of(got) == f"https://{name.split('.')[0]}.example"
    await udp.aclose()


def test_sockets_follow_the_running_loop_and_close_quietly(server: DnsServer) -> None:
    resolver = AsyncSmlResolver(ZONE, nameservers=["127.0.0.1"], port=server.port, timeout=5.0)
    gc.collect()  # what earlier tests left behind must not be counted here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # a fresh loop each time; the old loop's socket is not reused
            answer_ = asyncio.run(resolver.resolve(FOUND, use_cache=False))
            assert answer_.smp_url == SMP
        del resolver
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_closing_is_optional_and_reusable(server: DnsServer) -> None:
    async def go() -> None:
        async with AsyncSmlResolver(
            ZONE, nameservers=["127.0.0.1"], port=server.port, timeout=5.0
        ) as resolver:
            assert (await resolver.resolve(FOUND)).smp_url == SMP
            await resolver.aclose()
            assert (await resolver.resolve(FOUND, use_cache=False)).smp_url == SMP
        assert (await resolver.resolve(FOUND, use_cache=False)).smp_url == SMP

    gc.collect()  # what earlier tests left behind must not be counted here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(go())
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


class _NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without add_reader, like Windows' proactor: the endpoint reads with a task."""

    def add_reader(self, *args: object) -> None:
        raise NotImplementedError


def test_loops_without_add_reader(server: DnsServer) -> None:
    async def go() -> list[str]:
        resolver = AsyncSmlResolver(
            ZONE, nameservers=["127.0.0.1"], port=server.port, timeout=1.0, cache=False
        )
        answers = await asyncio.gather(*(resolver.resolve(FOUND) for _ in range(20)))
        with pytest.raises(NotImplementedError):
            asyncio.get_running_loop().add_reader(0, print)
        await resolver.aclose()
        return [a.smp_url for a in answers]

    with asyncio.Runner(loop_factory=_NoReaderLoop) as runner:
        assert runner.run(go()) == [SMP] * 20
    assert server.queries == 20


def test_resolvers_end_to_end_with_fallback(cleanup: list[FakeDns]) -> None:
    with DnsServer([ZONE], host="127.0.0.1") as good:
        good.add_participant(FOUND, SMP)
        cleanup.append(fake("127.0.0.2", good.port, on_udp=lambda q: []))
        options: dict[str, object] = {
            "nameservers": ["127.0.0.2", "127.0.0.1"],
            "port": good.port,
            "timeout": 0.6,
        }
        assert SmlResolver(ZONE, **options).resolve(FOUND).smp_url == SMP  # type: ignore[arg-type]

        async def go() -> str:
            resolver = AsyncSmlResolver(ZONE, **options)  # type: ignore[arg-type]
            return (await resolver.resolve(FOUND)).smp_url

        assert asyncio.run(go()) == SMP


# --- the blocking resolver's kept sockets ------------------------------------------------------


def _names(count: int, start: int = 0) -> list[str]:
    return [naptr_name(ParticipantId.parse(f"0007:{n:010d}"), ZONE) for n in range(start, count)]


def test_kept_sockets_are_reused_and_rotated_to_fresh_ports(cleanup: list[FakeDns]) -> None:
    """Sequential blocking queries share a kept socket, but no port carries more than
    ROTATE_AFTER queries (the kernel's random ephemeral ports, RFC 5452)."""
    from collections import Counter

    from peppolnet.dnsquery import UdpSockets

    srv = fake()
    cleanup.append(srv)
    udp = UdpSockets()
    total = 2 * ROTATE_AFTER + 20
    for name in _names(total):
        assert smp_of(ask(name, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp))
    per_port = Counter(srv.clients)
    assert len(srv.clients) == total
    assert max(per_port.values()) <= ROTATE_AFTER
    assert 3 <= len(per_port) < total // 10  # kept between queries, and rotated
    udp.close_all()


def test_a_kept_socket_past_its_age_takes_no_new_query(
    cleanup: list[FakeDns], monkeypatch: pytest.MonkeyPatch
) -> None:
    import peppolnet.dnsquery
    from peppolnet.dnsquery import UdpSockets

    monkeypatch.setattr(peppolnet.dnsquery, "MAX_AGE", 0.0)
    srv = fake()
    cleanup.append(srv)
    udp = UdpSockets()
    for name in _names(3):
        ask(name, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)
    assert len(set(srv.clients)) == 3  # every query on a fresh port
    assert not any(udp._idle.values())  # none kept: each was too old to take another


def test_a_socket_whose_query_failed_is_not_kept(cleanup: list[FakeDns]) -> None:
    """A query that timed out may still get its reply (or an ICMP error) later: its socket is
    closed, not handed to the next question; a late reply to a kept one is ignored."""
    from peppolnet.dnsquery import UdpSockets

    silent = {"left": 1}

    def first_silent(query: dns.message.Message) -> list[bytes]:
        if silent["left"]:
            silent["left"] -= 1
            return []
        return [answer(query).to_wire(), answer(query, FORGED).to_wire()]  # a late duplicate

    srv = fake(on_udp=first_silent)
    cleanup.append(srv)
    udp = UdpSockets()
    first, second, third = _names(3)
    with pytest.raises(DnsFailure):
        ask(first, NAPTR, ["127.0.0.1"], srv.port, 0.3, tcp=False, udp=udp)
    assert not any(udp._idle.values())
    assert smp_of(ask(second, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)) == (
        "https://real.example"
    )
    # the duplicate of the second's reply waits on the kept socket: the third ignores it
    assert smp_of(ask(third, NAPTR, ["127.0.0.1"], srv.port, 2.0, tcp=False, udp=udp)) == (
        "https://real.example"
    )
    assert srv.clients[1] == srv.clients[2]  # the second's socket was kept for the third
    udp.close_all()


# --- the random source of query IDs and socket picks (RFC 5452) ----------------------------------


def test_query_ids_are_spread_over_all_16_bits() -> None:
    ids = [_RANDOM.bits16() for _ in range(4096)]
    assert all(0 <= i <= 0xFFFF for i in ids)
    # 4,096 draws of 65,536 values: ~3,970 distinct expected; a repeating source gives far fewer
    assert len(set(ids)) > 3800
    assert max(ids) > 0xF000
    assert min(ids) < 0x1000


@pytest.mark.parametrize("n", [1, 3, 8, 200, 1000])
def test_a_pick_is_in_range_and_every_choice_comes_up(n: int) -> None:
    picks = [_RANDOM.below(n) for _ in range(40 * n)]
    assert set(picks) == set(range(n))


def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    _RANDOM.bits16()  # the buffer is filled in the parent before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next IDs, to the parent
        os.close(read)
        os.write(write, b"".join(_RANDOM.bits16().to_bytes(2, "big") for _ in range(32)))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(_RANDOM.bits16().to_bytes(2, "big") for _ in range(32))
    assert len(child) == 64
    assert child != parent
