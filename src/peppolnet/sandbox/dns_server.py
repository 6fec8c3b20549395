"""An authoritative DNS server for sandbox SML zones, with fault and latency injection.

It answers what the Peppol SML answers - ``100 10 "U" "Meta:SMP" "!.*!<smp url>!" .`` NAPTR
records at the participant's hashed name, optionally the legacy ``B-<md5>`` CNAME, NXDOMAIN with
an SOA for unknown names, REFUSED outside its zones - over UDP and TCP on the same port of
127.0.0.1, so peppolnet's resolvers are tested over real sockets. It can also play a lying
resolver in front of the zone (:data:`LIES`, :meth:`DnsServer.set_lie`), to test that a denial
which cannot be shown to come from the SML is never read as "not registered".

It runs its own asyncio loop in a background thread. Every answer is scheduled with
``loop.call_later``, so an injected delay holds back only that answer: 256 concurrent queries
with 20 ms latency finish in about 20 ms, not 5 s, which is what benchmarks depend on. The
registry of participants and the fault settings may be changed from any thread while it serves
(the sandbox's operator desk registers participants on a running server).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.SOA
import dns.rdtypes.IN.NAPTR
import dns.rrset

from peppolnet.errors import SandboxError
from peppolnet.identifiers import ParticipantId
from peppolnet.sml import cname_name, naptr_name

__all__ = ["LIES", "DnsServer", "Fault", "Lie"]

Fault = Literal["servfail", "silence"]
"""``servfail`` answers SERVFAIL; ``silence`` sends nothing (the client times out)."""
Lie = Literal["nxdomain", "strip-authority"]
"""How the server lies, as resolvers in front of the SML do (see :data:`LIES`)."""
LIES: Final[Mapping[str, str]] = {
    "nxdomain": "NXDOMAIN for every name, the zone's own SOA included, without an authority "
    "section (a captive portal, a filtered or offline network)",
    "strip-authority": "honest answers without their authority section, so denials carry no "
    "SOA (the zone's own SOA is still answered when asked for)",
}
"""Every lie the server can tell, with what it does."""

_NEGATIVE_TTL_DEFAULT: Final = 60
_UDP_PAYLOAD: Final = 512
_MAX_TCP_BUFFER: Final = 1 << 16
#: UDP receive buffer asked for: a burst of 256+ concurrent queries overflows Linux's default
#: (about 270 small datagrams), and a dropped query looks like a timeout to the client.
_UDP_RECEIVE_BUFFER: Final = 4 << 20


def _grow_receive_buffer(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)


@dataclass(frozen=True)
class _Records:
    """What is published at one DNS name, and for which participant."""

    participant: ParticipantId
    rdtype: dns.rdatatype.RdataType
    rrset: dns.rrset.RRset


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        answer, delay = self.server._handle(data, max_size=_UDP_PAYLOAD)
        if answer is None or self.transport is None:
            return
        transport = self.transport
        if delay > 0:
            self.server._loop_call_later(delay, _send_udp, transport, answer, addr)
        else:
            _send_udp(transport, answer, addr)


def _send_udp(transport: asyncio.DatagramTransport, data: bytes, addr: Any) -> None:
    if not transport.is_closing():
        transport.sendto(data, addr)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _MAX_TCP_BUFFER + 2 and self.transport is not None:
            self.transport.close()
            return
        while len(self.buffer) >= 2:
            size = int.from_bytes(self.buffer[:2], "big")
            if len(self.buffer) < 2 + size:
                return
            message, self.buffer = self.buffer[2 : 2 + size], self.buffer[2 + size :]
            answer, delay = self.server._handle(message, max_size=65535)
            if answer is None or self.transport is None:
                continue
            framed = len(answer).to_bytes(2, "big") + answer
            if delay > 0:
                self.server._loop_call_later(delay, _send_tcp, self.transport, framed)
            else:
                _send_tcp(self.transport, framed)


def _send_tcp(transport: asyncio.Transport, data: bytes) -> None:
    if not transport.is_closing():
        transport.write(data)


class DnsServer:
    """An authoritative server for one or more sandbox SML zones on ``host``:``port``.

    ``port=0`` picks a free port (the same for UDP and TCP). ``ttl`` is the TTL of every record;
    the SOA's minimum (the negative TTL) is the same value.
    """

    def __init__(
        self, zones: Sequence[str] | str, *, host: str = "127.0.0.1", port: int = 0, ttl: int = 60
    ) -> None:
        if isinstance(zones, str):
            zones = [zones]
        self._zones: list[dns.name.Name] = []
        for zone in zones:
            text = str(zone).strip().rstrip(".")
            try:
                self._zones.append(dns.name.from_text(text))
            except dns.exception.DNSException as exc:
                raise SandboxError(f"the zone {zone!r} is not a DNS name: {exc}") from None
        if not self._zones:
            raise SandboxError("a DNS server needs at least one zone")
        # Longest zone first, so a query matches the most specific zone served.
        self._zones.sort(key=lambda z: len(z.labels), reverse=True)
        if ttl < 0:
            raise SandboxError(f"the TTL must not be negative, not {ttl}")
        self.host = host
        self._port = port
        self.ttl = ttl
        self._lock = threading.Lock()
        self._records: dict[dns.name.Name, _Records] = {}
        self._names: dict[ParticipantId, list[dns.name.Name]] = {}
        self._faults: dict[ParticipantId | None, Fault] = {}
        self._lie: Lie | None = None
        self._latency = (0.0, 0.0)
        self._timeout_share = 0.0
        self._random = random.Random()
        self._queries = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._tcp_server: asyncio.AbstractServer | None = None
        self._soa = {zone: self._make_soa(zone) for zone in self._zones}

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones served, without trailing dots."""
        return tuple(z.to_text(omit_final_dot=True) for z in self._zones)

    @property
    def port(self) -> int:
        """The port, UDP and TCP (known once started)."""
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return (self.host, self._port)

    @property
    def queries(self) -> int:
        """How many queries arrived (answered or not) since start or :meth:`reset_queries`."""
        return self._queries

    def reset_queries(self) -> None:
        """Set the :attr:`queries` counter back to zero."""
        with self._lock:
            self._queries = 0

    def start(self) -> DnsServer:
        """Bind UDP and TCP and start serving in a background thread; returns ``self``."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind(loop))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._close())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"peppolnet-dns-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise SandboxError(
                f"the sandbox DNS server could not bind {self.host}:{self._port}: {failure[0]}"
            )
        return self

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        attempts = 20 if self._port == 0 else 1
        last: OSError | None = None
        for _ in range(attempts):
            udp: asyncio.DatagramTransport | None = None
            try:
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=(self.host, self._port)
                )
                port = udp.get_extra_info("sockname")[1]
                _grow_receive_buffer(udp)
                tcp = await loop.create_server(
                    lambda: _Tcp(self), self.host, port, reuse_address=True
                )
            except OSError as exc:
                last = exc
                if udp is not None:
                    udp.close()
                continue
            self._port = port
            self._transports = [udp]
            self._tcp_server = tcp
            return
        assert last is not None
        raise last

    async def _close(self) -> None:
        for transport in self._transports:
            transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            if hasattr(self._tcp_server, "close_clients"):  # Python 3.13+
                self._tcp_server.close_clients()
        await asyncio.sleep(0)

    def stop(self) -> None:
        """Stop serving and release the port (pending delayed answers are dropped)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._loop = None
        self._thread = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"DnsServer(zones={self.zones!r}, address={self.address!r}, {state})"

    def _loop_call_later(self, delay: float, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, callback, *args)

    # --- the registry ----------------------------------------------------------------------------

    def _zone_names(self, zone: str | None) -> list[dns.name.Name]:
        if zone is None:
            return list(self._zones)
        wanted = dns.name.from_text(zone.strip().rstrip("."))
        if wanted not in self._zones:
            raise SandboxError(f"this server does not serve the zone {zone!r}")
        return [wanted]

    def add_participant(
        self,
        participant: ParticipantId | str,
        smp_url: str,
        *,
        zone: str | None = None,
        legacy_cname: bool = False,
        service: str = "Meta:SMP",
    ) -> None:
        """Publish ``participant`` -> ``smp_url`` (in every zone served, or only ``zone``).

        ``legacy_cname`` also publishes the old ``B-<md5>`` CNAME pointing at the SMP's host name;
        ``service`` lets tests publish a NAPTR for some other service.
        """
        pid = (
            participant
            if isinstance(participant, ParticipantId)
            else ParticipantId.parse(participant)
        )
        if any(c in smp_url for c in '!\\" ') or not smp_url:
            raise SandboxError(f"the SMP URL {smp_url!r} cannot be put in a NAPTR regexp")
        host = urllib.parse.urlsplit(smp_url).hostname or ""
        if legacy_cname and not host:
            raise SandboxError(f"the SMP URL {smp_url!r} has no host name for a CNAME")
        entries: dict[dns.name.Name, _Records] = {}
        for zone_name in self._zone_names(zone):
            zone_text = zone_name.to_text(omit_final_dot=True)
            name = dns.name.from_text(naptr_name(pid, zone_text))
            naptr = dns.rdtypes.IN.NAPTR.NAPTR(  # type: ignore[no-untyped-call]
                dns.rdataclass.IN,
                dns.rdatatype.NAPTR,
                100,
                10,
                b"U",
                service.encode(),
                f"!.*!{smp_url}!".encode(),
                dns.name.root,
            )
            entries[name] = _Records(pid, dns.rdatatype.NAPTR, self._rrset(name, naptr))
            if legacy_cname:
                cname = dns.name.from_text(cname_name(pid, zone_text))
                target = dns.rdtypes.ANY.CNAME.CNAME(  # type: ignore[no-untyped-call]
                    dns.rdataclass.IN, dns.rdatatype.CNAME, dns.name.from_text(host)
                )
                entries[cname] = _Records(pid, dns.rdatatype.CNAME, self._rrset(cname, target))
        with self._lock:
            self._remove_locked(pid)
            self._records.update(entries)
            self._names[pid] = list(entries)

    def remove_participant(self, participant: ParticipantId | str) -> None:
        """Withdraw every record of ``participant`` (NXDOMAIN from now on)."""
        pid = (
            participant
            if isinstance(participant, ParticipantId)
            else ParticipantId.parse(participant)
        )
        with self._lock:
            self._remove_locked(pid)

    def _remove_locked(self, pid: ParticipantId) -> None:
        for name in self._names.pop(pid, ()):
            self._records.pop(name, None)

    @property
    def participants(self) -> frozenset[ParticipantId]:
        """The participants currently published."""
        with self._lock:
            return frozenset(self._names)

    # --- faults ----------------------------------------------------------------------------------

    def set_fault(self, participant: ParticipantId | str | None, fault: Fault | None) -> None:
        """Make answers for ``participant`` (None: every query) SERVFAIL or silent; None clears."""
        if fault not in (None, "servfail", "silence"):
            raise SandboxError(f"unknown DNS fault {fault!r}; use 'servfail', 'silence' or None")
        pid = ParticipantId.parse(participant) if isinstance(participant, str) else participant
        with self._lock:
            if fault is None:
                self._faults.pop(pid, None)
            else:
                self._faults[pid] = fault

    def set_lie(self, lie: Lie | None) -> None:
        """Answer every query as a lying resolver would (see :data:`LIES`); None is honest again.

        ``"nxdomain"`` comes before every other fault (a resolver that denies everything asks
        no one), after the random silence of :meth:`set_timeout_share`.
        """
        if lie is not None and lie not in LIES:
            raise SandboxError(f"unknown DNS lie {lie!r}; use {', '.join(map(repr, LIES))} or None")
        with self._lock:
            self._lie = lie

    @property
    def lie(self) -> Lie | None:
        """The lie being told, None when honest."""
        return self._lie

    def set_latency(self, fixed: float = 0.0, jitter: float = 0.0) -> None:
        """Delay every answer by ``fixed`` plus a uniform random share of ``jitter`` seconds."""
        if fixed < 0 or jitter < 0:
            raise SandboxError("latency and jitter must not be negative")
        with self._lock:
            self._latency = (float(fixed), float(jitter))

    def set_timeout_share(self, share: float, seed: int | None = None) -> None:
        """Leave a random ``share`` (0..1) of queries unanswered; ``seed`` makes it repeatable."""
        if not 0.0 <= share <= 1.0:
            raise SandboxError(f"the timeout share must be between 0 and 1, not {share}")
        with self._lock:
            self._timeout_share = float(share)
            if seed is not None:
                self._random = random.Random(seed)

    # --- answering (runs on the server's loop) ---------------------------------------------------

    def _rrset(self, name: dns.name.Name, rdata: Any) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdata.rdtype)
        rrset.add(rdata, self.ttl)
        return rrset

    def _make_soa(self, zone: dns.name.Name) -> dns.rrset.RRset:
        soa = dns.rdtypes.ANY.SOA.SOA(  # type: ignore[no-untyped-call]
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            dns.name.Name(("ns",)).concatenate(zone),
            dns.name.Name(("hostmaster",)).concatenate(zone),
            1,
            3600,
            600,
            86400,
            self.ttl,
        )
        return self._rrset(zone, soa)

    def _handle(self, wire: bytes, *, max_size: int) -> tuple[bytes | None, float]:
        """Build the answer to one query; returns (wire or None for silence, delay)."""
        with self._lock:
            self._queries += 1
            fixed, jitter = self._latency
            delay = fixed + (self._random.uniform(0.0, jitter) if jitter else 0.0)
            silent = self._timeout_share > 0 and self._random.random() < self._timeout_share
            lie = self._lie
        if silent:
            return None, 0.0
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None, 0.0  # not DNS: drop, as authoritative servers do with garbage
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return self._wire(response, max_size), delay
        if lie == "nxdomain":
            response.flags &= ~dns.flags.AA  # a resolver speaking, not the zone's server
            response.set_rcode(dns.rcode.NXDOMAIN)
            return self._wire(response, max_size), delay
        question = query.question[0]
        qname = question.name
        zone = next((z for z in self._zones if qname.is_subdomain(z)), None)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return self._wire(response, max_size), delay
        with self._lock:
            entry = self._records.get(qname)
            fault = self._faults.get(entry.participant) if entry is not None else None
            fault = fault or self._faults.get(None)
        if fault == "silence":
            return None, 0.0
        if fault == "servfail":
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.SERVFAIL)
            return self._wire(response, max_size), delay
        qtype = question.rdtype
        if entry is not None and (entry.rdtype == qtype or entry.rdtype == dns.rdatatype.CNAME):
            response.answer.append(entry.rrset)
        elif qname == zone and qtype == dns.rdatatype.SOA:
            response.answer.append(self._soa[zone])
        else:
            if entry is None and qname != zone:
                response.set_rcode(dns.rcode.NXDOMAIN)
            if lie != "strip-authority":
                response.authority.append(self._soa[zone])
        return self._wire(response, max_size), delay

    @staticmethod
    def _wire(response: dns.message.Message, max_size: int) -> bytes:
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()
