"""An authoritative DNS server for sandbox SML zones, with fault and latency injection.

It answers what the Peppol SML answers - ``100 10 "U" "Meta:SMP" "!.*!<smp url>!" .`` NAPTR
records at the participant's hashed name, optionally the legacy ``B-<md5>`` CNAME, NXDOMAIN with
an SOA for unknown names, REFUSED outside its zones - over UDP and TCP on the same port of
127.0.0.1, so peppolnet's resolvers are tested over real sockets. It can also play a lying
resolver in front of the zone (:data:`LIES`, :meth:`DnsServer.set_lie`), to test that a denial
which cannot be shown to come from the SML is never read as "not registered".

Plain queries, while no fault, lie or defect is set, are answered from records rendered once
when they were published (:mod:`peppolnet.sandbox.dns_fast`, ~10 us instead of ~250 us with
dnspython), so the sandbox does not cap a benchmark of the client; a query that asks for DNSSEC
(the DO bit, a DNSSEC record type) always takes the full path. It runs its own asyncio loop in a
background thread. Every answer is scheduled with
``loop.call_later``, so an injected delay holds back only that answer: 256 concurrent queries
with 20 ms latency finish in about 20 ms, not 5 s, which is what benchmarks depend on. The
registry of participants and the fault settings may be changed from any thread while it serves
(the sandbox's operator desk registers participants on a running server).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
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

from peppolnet.clock import Clock, as_clock
from peppolnet.errors import SandboxError
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_fast import FastAnswers
from peppolnet.sandbox.dns_signing import DNSSEC_MODES, DnssecMode, NameIndex, ZoneSigner
from peppolnet.sml import cname_name, naptr_name

__all__ = ["DEFECTS", "DNSSEC_MODES", "LIES", "DnsServer", "DnssecMode", "Fault", "Lie"]

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
DEFECTS: Final[Mapping[str, str]] = {
    "no-naptr": "NOTIMP for every NAPTR question, as some container and home-router resolvers",
    "no-edns": "FORMERR for every question with EDNS, as resolvers that predate EDNS (RFC 6891)",
    "no-tcp": "no answers over TCP: connections are closed at once (a firewall that blocks "
    "TCP port 53)",
}
"""The shortcomings of a poor resolver the server can show, with what each does."""

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
        if "no-tcp" in self.server.defects:
            self.transport.close()

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
    the SOA's minimum (the negative TTL) is the same value. The zones are signed with keys of
    the server's own, and their parents served to hold their DS records (:mod:`.dns_signing`;
    :attr:`trust_anchors`); ``clock`` (the sandbox's) dates the signatures.
    """

    def __init__(
        self,
        zones: Sequence[str] | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ttl: int = 60,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(zones, str):
            zones = [zones]
        self._zones: list[dns.name.Name] = []
        for zone in zones:
            text = str(zone).strip().rstrip(".")
            try:
                self._zones.append(dns.name.from_text(text))
            except dns.exception.DNSException as exc:
                raise SandboxError(
                    _("the zone {zone} is not a DNS name: {exc}", zone=repr(zone), exc=str(exc))
                ) from None
        if not self._zones:
            raise SandboxError(_("a DNS server needs at least one zone"))
        # Longest zone first, so a query matches the most specific zone served.
        self._zones.sort(key=lambda z: len(z.labels), reverse=True)
        if ttl < 0:
            raise SandboxError(_("the TTL must not be negative, not {ttl}", ttl=ttl))
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
        self._version = 0  # changes whenever the published names do
        self._indexes: dict[dns.name.Name, tuple[int, NameIndex]] = {}
        self._defects: frozenset[str] = frozenset()
        sandbox_clock = as_clock(clock)
        self._signer = ZoneSigner(self._zones, sandbox_clock.now, ttl)
        self._soa = {zone: self._make_soa(zone) for zone in (*self._zones, *self._signer.parents)}
        self._fast = FastAnswers({zone: self._soa[zone] for zone in self._zones})

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
            error = failure[0]
            in_use = isinstance(error, OSError) and error.errno == errno.EADDRINUSE
            raise SandboxError(
                _(
                    "the sandbox DNS server could not bind {host}:{port}: {failure}",
                    host=self.host,
                    port=self._port,
                    failure=_("the port is in use") if in_use else error,
                ),
                # a port another program holds now may be free later: a fault, not an answer
                retryable=isinstance(error, OSError),
            )
        return self

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        attempts = 20 if self._port == 0 else 1
        last: OSError | None = None
        for _attempt in range(attempts):
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
            raise SandboxError(_("this server does not serve the zone {zone}", zone=repr(zone)))
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
            raise SandboxError(
                _("the SMP URL {smp_url} cannot be put in a NAPTR regexp", smp_url=repr(smp_url))
            )
        host = urllib.parse.urlsplit(smp_url).hostname or ""
        if legacy_cname and not host:
            raise SandboxError(
                _("the SMP URL {smp_url} has no host name for a CNAME", smp_url=repr(smp_url))
            )
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
            self._version += 1
            self._fast.publish((name, r.rdtype, r.rrset) for name, r in entries.items())

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
        names = self._names.pop(pid, ())
        for name in names:
            self._records.pop(name, None)
        self._fast.withdraw(names)
        self._version += 1

    @property
    def participants(self) -> frozenset[ParticipantId]:
        """The participants currently published."""
        with self._lock:
            return frozenset(self._names)

    # --- faults ----------------------------------------------------------------------------------

    def set_fault(self, participant: ParticipantId | str | None, fault: Fault | None) -> None:
        """Make answers for ``participant`` (None: every query) SERVFAIL or silent; None clears."""
        if fault not in (None, "servfail", "silence"):
            raise SandboxError(
                _("unknown DNS fault {fault}; use 'servfail', 'silence' or None", fault=repr(fault))
            )
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
            raise SandboxError(
                _(
                    "unknown DNS lie {lie}; use {listed} or None",
                    lie=repr(lie),
                    listed=", ".join(map(repr, LIES)),
                )
            )
        with self._lock:
            self._lie = lie

    @property
    def lie(self) -> Lie | None:
        """The lie being told, None when honest."""
        return self._lie

    def set_dnssec(self, mode: DnssecMode) -> None:
        """Make the SML zones' DNSSEC validate (``"signed"``, the default), be insecure, or be
        bogus in one of several ways (see :data:`DNSSEC_MODES`)."""
        if mode not in DNSSEC_MODES:
            known = ", ".join(map(repr, DNSSEC_MODES))
            raise SandboxError(
                _("unknown DNSSEC mode {mode}; use one of {known}", mode=repr(mode), known=known)
            )
        with self._lock:
            self._signer.mode = mode
            self._version += 1  # the names' types (NSEC, DS) change with it

    @property
    def dnssec(self) -> DnssecMode:
        """What the SML zones' DNSSEC does (see :data:`DNSSEC_MODES`)."""
        return self._signer.mode

    @property
    def trust_anchors(self) -> tuple[str, ...]:
        """The DS records a validator must trust for this server's zones (``Network``'s
        ``dnssec_anchors``): the keys of the parent zones, made when the server was."""
        return self._signer.anchors

    def set_defects(self, *defects: str) -> None:
        """Answer as a poor resolver does (see :data:`DEFECTS`); no arguments: none again."""
        unknown = [d for d in defects if d not in DEFECTS]
        if unknown:
            known = ", ".join(map(repr, DEFECTS))
            raise SandboxError(
                _(
                    "unknown resolver defect {unknown}; use {known}",
                    unknown=repr(unknown[0]),
                    known=known,
                )
            )
        with self._lock:
            self._defects = frozenset(defects)

    @property
    def defects(self) -> frozenset[str]:
        """The resolver defects being shown."""
        return self._defects

    def set_latency(self, fixed: float = 0.0, jitter: float = 0.0) -> None:
        """Delay every answer by ``fixed`` plus a uniform random share of ``jitter`` seconds."""
        if fixed < 0 or jitter < 0:
            raise SandboxError(_("latency and jitter must not be negative"))
        with self._lock:
            self._latency = (float(fixed), float(jitter))

    def set_timeout_share(self, share: float, seed: int | None = None) -> None:
        """Leave a random ``share`` (0..1) of queries unanswered; ``seed`` makes it repeatable."""
        if not 0.0 <= share <= 1.0:
            raise SandboxError(
                _("the timeout share must be between 0 and 1, not {share}", share=share)
            )
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
            lie, defects = self._lie, self._defects
            # the fast path (sandbox.dns_fast) while nothing is faulty: no lie, fault or defect
            plain = not (lie or defects or self._faults)
            fast = self._fast.answer(wire, max_size) if plain else None
        if silent:
            return None, 0.0
        return (fast if fast is not None else self._answer(wire, max_size, lie, defects)), delay

    def _answer(
        self, wire: bytes, max_size: int, lie: Lie | None, defects: frozenset[str]
    ) -> bytes | None:
        """The answer to ``wire`` built with dnspython (None: stay silent)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not DNS: drop, as authoritative servers do with garbage
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if query.ednsflags & dns.flags.DO:
            response.want_dnssec(True)  # the DO bit is copied into the answer (RFC 3225 §3)
        refusal = self._refusal(query, lie, defects)
        if refusal is not None:
            if refusal in (dns.rcode.NXDOMAIN, dns.rcode.NOTIMP):
                response.flags &= ~dns.flags.AA  # a resolver speaking, not the zone's server
            if refusal == dns.rcode.FORMERR:
                response.use_edns(False)  # a server that predates EDNS sends no OPT either
            response.set_rcode(refusal)
            return self._wire(response, max_size)
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self._answering_zone(qname, qtype)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return self._wire(response, max_size)
        with self._lock:
            entry = self._records.get(qname)
            fault = self._faults.get(entry.participant) if entry is not None else None
            fault = fault or self._faults.get(None)
        if fault == "silence":
            return None
        if fault == "servfail":
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.SERVFAIL)
            return self._wire(response, max_size)
        dnssec = bool(query.ednsflags & dns.flags.DO) and self._signer.mode != "stripped"
        if zone in self._signer.children:
            self._answer_parent(response, zone, qname, qtype, dnssec)
        else:
            self._answer_zone(response, zone, qname, qtype, entry, dnssec)
        if lie == "strip-authority":
            response.authority.clear()
        return self._wire(response, max_size)

    @staticmethod
    def _refusal(
        query: dns.message.Message, lie: Lie | None, defects: frozenset[str]
    ) -> dns.rcode.Rcode | None:
        """The RCODE of an answer that does not look at the zones at all, if this is one."""
        if len(query.question) != 1:
            return dns.rcode.FORMERR
        if lie == "nxdomain":
            return dns.rcode.NXDOMAIN
        if "no-edns" in defects and query.edns >= 0:
            return dns.rcode.FORMERR
        if "no-naptr" in defects and query.question[0].rdtype == dns.rdatatype.NAPTR:
            return dns.rcode.NOTIMP
        return None

    def _answering_zone(self, qname: dns.name.Name, qtype: int) -> dns.name.Name | None:
        """The zone that answers: the most specific one served that holds ``qname`` - but the
        DS of an SML zone is its parent's to give, and the parents answer for their own names."""
        zone = next((z for z in self._zones if qname.is_subdomain(z)), None)
        if zone is not None and not (qname == zone and qtype == dns.rdatatype.DS):
            return zone
        return next((p for p in self._signer.parents if qname.is_subdomain(p)), None)

    def _index(self, zone: dns.name.Name) -> NameIndex:
        """The names of an SML zone as now published (rebuilt when they change)."""
        with self._lock:
            version = self._version
            known = self._indexes.get(zone)
            if known is not None and known[0] == version:
                return known[1]
            inside = {
                name: int(entry.rdtype)
                for name, entry in self._records.items()
                if next((z for z in self._zones if name.is_subdomain(z)), None) == zone
            }
        index = self._signer.zone_index(zone, inside)
        with self._lock:
            self._indexes[zone] = (version, index)
        return index

    def _answer_zone(
        self,
        response: dns.message.Message,
        zone: dns.name.Name,
        qname: dns.name.Name,
        qtype: int,
        entry: _Records | None,
        dnssec: bool,
    ) -> None:
        """An SML zone's answer: the records, the apex's SOA or DNSKEY, or a denial with the
        SOA (and, asked with DO, NSEC records: every RRset then gets its signature)."""
        signed = dnssec and self._signer.signed(zone)
        if entry is not None and (entry.rdtype == qtype or entry.rdtype == dns.rdatatype.CNAME):
            response.answer.append(entry.rrset)
        elif qname == zone and qtype == dns.rdatatype.SOA:
            response.answer.append(self._soa[zone])
        elif qname == zone and qtype == dns.rdatatype.DNSKEY and self._signer.signed(zone):
            response.answer.append(self._signer.dnskey(zone))
        else:  # the names are only needed to deny (the index is rebuilt when they change)
            self._deny(response, zone, self._index(zone), qname, with_nsec=signed)
        if signed:
            self._sign(response, zone)

    def _deny(
        self,
        response: dns.message.Message,
        zone: dns.name.Name,
        index: NameIndex,
        qname: dns.name.Name,
        *,
        with_nsec: bool,
    ) -> None:
        """No such name (an empty non-terminal exists), or no such record: the zone's SOA, and
        the NSEC records that prove it when the answer is signed."""
        nxdomain = not index.exists(qname)
        if nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(self._soa[zone])
        if with_nsec:
            response.authority.extend(self._signer.nsec(index, index.denial(qname, nxdomain)))

    def _answer_parent(
        self,
        response: dns.message.Message,
        parent: dns.name.Name,
        qname: dns.name.Name,
        qtype: int,
        dnssec: bool,
    ) -> None:
        """A parent zone's answer: its SOA and DNSKEY, its children's DS records (unless the
        children are unsigned), or a denial."""
        index = self._signer.parent_index(parent)
        types = index.types.get(qname, frozenset())
        if qname == parent and qtype == dns.rdatatype.SOA:
            response.answer.append(self._soa[parent])
        elif qname == parent and qtype == dns.rdatatype.DNSKEY:
            response.answer.append(self._signer.dnskey(parent))
        elif qtype == dns.rdatatype.DS and dns.rdatatype.DS in types:
            response.answer.append(self._signer.ds(qname))
        else:
            self._deny(response, parent, index, qname, with_nsec=dnssec)
        if dnssec:
            self._sign(response, parent)

    def _sign(self, response: dns.message.Message, zone: dns.name.Name) -> None:
        """Add the RRSIG over every RRset in the answer and authority sections."""
        for section in (response.answer, response.authority):
            section.extend([self._signer.signatures(rrset, zone) for rrset in section])

    @staticmethod
    def _wire(response: dns.message.Message, max_size: int) -> bytes:
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()
