"""Where peppolnet may connect: the destination policy of a network.

Why a policy at all: an SMP's address comes from DNS (the SML's NAPTR record), which is not
signed, and a CRL's address from a certificate or a CRL server's redirect. Without a policy a
forged or careless record makes every lookup open TLS connections to whatever it names -
``127.0.0.1:6379``, ``169.254.169.254`` (a cloud's metadata service), a printer on the office
network - a server-side request forgery (OWASP SSRF Prevention Cheat Sheet). An SMP of the
Peppol network is a public HTTPS server, so the built-in networks refuse every address that is
not public; the sandbox, whose servers all live on 127.0.0.1, allows loopback.

An address is judged the way a socket would reach it, whatever its spelling: a URL's host is
read as the WHATWG URL Standard reads IPv4 hosts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``
and ``127.1`` are all 127.0.0.1, as ``inet_aton`` and so ``getaddrinfo`` take them), IPv6 hosts
with IPv4 inside (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64) are judged by that IPv4 address, and
``localhost`` names (RFC 6761) are loopback without asking DNS. The HTTP transports check again
the address they actually connect to (see :mod:`peppolnet._http`), so a name that resolves to a
private address is refused too.

Credentials in a URL (``https://user:secret@smp.example/``) are refused by every policy: they
would be sent as ``Authorization: Basic`` to whoever the record names, and printed in messages.
:func:`redact_url` is what every message shows instead.

>>> policy = DestinationPolicy()
>>> policy.refusal("https://0x7f.1/")
'https://0x7f.1/ points to 127.0.0.1, a loopback address'
>>> policy.refusal("https://smp.example.com/") is None
True
>>> DestinationPolicy.allowing("loopback").refusal("https://127.0.0.1:8443/") is None
True
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
import string
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Final, TypeAlias

from peppolnet.errors import DestinationRefused, InvalidInput
from peppolnet.i18n import _

__all__ = [
    "LOOPBACK_ALLOWED",
    "PUBLIC_ONLY",
    "AddressClass",
    "DestinationPolicy",
    "IPAddress",
    "classify",
    "host_address",
    "redact_text",
    "redact_url",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressClass(enum.StrEnum):
    """The kinds of address that are not public (IANA special-purpose registries, RFC 6890)."""

    UNSPECIFIED = "unspecified"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    MULTICAST = "multicast"
    PRIVATE = "private"
    RESERVED = "reserved"

    @property
    def phrase(self) -> str:
        """``a loopback address``: how a sentence names the class."""
        return _("the unspecified address") if self is AddressClass.UNSPECIFIED else _PHRASES[self]


_PHRASES: Final = {
    AddressClass.LOOPBACK: _("a loopback address"),
    AddressClass.LINK_LOCAL: _("a link-local address"),
    AddressClass.MULTICAST: _("a multicast address"),
    AddressClass.PRIVATE: _("a private address"),
    AddressClass.RESERVED: _("a reserved address"),
}

# Explicit tables rather than ipaddress's is_private/is_global alone: those changed meaning
# between Python releases (3.11.10, 3.12.4, 3.13), and "private" there also covers documentation
# and benchmarking ranges. Order matters: the first class that contains the address wins; what
# none of them contains and is not global is RESERVED.
_TABLES: Final[tuple[tuple[AddressClass, tuple[_Network, ...]], ...]] = tuple(
    (kind, tuple(ipaddress.ip_network(n) for n in networks))
    for kind, networks in (
        (AddressClass.UNSPECIFIED, ("0.0.0.0/32", "::/128")),
        (AddressClass.LOOPBACK, ("127.0.0.0/8", "::1/128")),
        (AddressClass.LINK_LOCAL, ("169.254.0.0/16", "fe80::/10")),
        (AddressClass.MULTICAST, ("224.0.0.0/4", "ff00::/8")),
        (
            AddressClass.PRIVATE,
            (
                "10.0.0.0/8",  # RFC 1918
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",  # shared address space (carrier-grade NAT), RFC 6598
                "fc00::/7",  # unique local addresses, RFC 4193
                "fec0::/10",  # site-local (deprecated by RFC 3879, still routable inside sites)
            ),
        ),
        (
            AddressClass.RESERVED,
            ("0.0.0.0/8", "240.0.0.0/4", "255.255.255.255/32", "::/96", "100::/64"),
        ),
    )
)
# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway connects to (RFC 6052 NAT64).
_NAT64: Final = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped, 6to4, Teredo client or NAT64."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: IPAddress | str) -> AddressClass | None:
    """The class of a non-public address, or None for a public (globally routable) one.

    >>> classify("10.1.2.3"), classify("::ffff:127.0.0.1"), classify("fd00::1")
    (<AddressClass.PRIVATE: 'private'>, <AddressClass.LOOPBACK: 'loopback'>, \
<AddressClass.PRIVATE: 'private'>)
    >>> classify("192.0.2.1"), classify("8.8.8.8")
    (<AddressClass.RESERVED: 'reserved'>, None)
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])
        inner = _embedded_ipv4(ip)
        if inner is not None:
            found = classify(inner)
            if found is not None:
                return found
    for kind, networks in _TABLES:
        if any(ip.version == n.version and ip in n for n in networks):
            return kind
    return None if ip.is_global else AddressClass.RESERVED


# --- reading hosts as a socket would -----------------------------------------------------------

_HEX: Final = frozenset(string.hexdigits)
_OCT: Final = frozenset("01234567")


def _ipv4_part(part: str) -> int | None:
    """One dotted part as the URL Standard's IPv4 number parser reads it (None: not a number)."""
    if part[:2].lower() == "0x":
        digits, base, allowed = part[2:], 16, _HEX
    elif len(part) > 1 and part[0] == "0":
        digits, base, allowed = part[1:], 8, _OCT
    else:
        digits, base, allowed = part, 10, frozenset(string.digits)
    if not digits:
        return 0  # "0x" alone is zero
    if not set(digits) <= allowed:
        return None
    return int(digits, base)


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as an IPv4 address in any spelling ``inet_aton`` accepts, or None for a name."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not parts or len(parts) > 4 or any(p == "" for p in parts):
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def host_address(host: str) -> IPAddress | None:
    """The address a URL host names without DNS, or None when it is a name to resolve.

    Percent-escapes and Unicode compatibility forms (full-width digits, the ideographic full
    stop) are folded first, as URL parsers and IDNA do; brackets and an IPv6 zone are dropped.

    >>> host_address("2130706433"), host_address("0x7f.1"), host_address("[::ffff:7f00:1]")
    (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'), IPv6Address('::ffff:7f00:1'))
    >>> host_address("smp.example.com") is None
    True
    """
    text = unicodedata.normalize("NFKC", urllib.parse.unquote(host)).strip()
    text = text.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    return _ipv4(text)


def _is_localhost(host: str) -> bool:
    """``localhost`` and every name below it resolve to loopback (RFC 6761 6.3)."""
    name = unicodedata.normalize("NFKC", urllib.parse.unquote(host)).strip().lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``: what messages show.

    >>> redact_url("https://user:secret@smp.example/path")
    'https://***@smp.example/path'
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("@", 1)[-1] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


_USERINFO: Final = re.compile(r"(?<=//)[^/?#\s@\"!]+@")


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***`` (a NAPTR record as
    printed, a message quoting a URL).

    >>> redact_text('100 10 "U" "Meta:SMP" "!.*!https://u:pw@smp.example!" .')
    '100 10 "U" "Meta:SMP" "!.*!https://***@smp.example!" .'
    """
    return _USERINFO.sub("***@", text)


# --- the policy ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """Which addresses a network's SMP and CRL URLs may lead to.

    By default only public addresses: every :class:`AddressClass` is refused. ``allow`` names
    classes to accept anyway (loopback for the sandbox, private for an SMP on a company
    network) and ``networks`` accepts particular ranges, so a policy can be widened exactly as
    far as needed (:meth:`allowing` takes both as text)::

        corporate = dataclasses.replace(
            TEST, destinations=DestinationPolicy.allowing(networks=["10.20.0.0/16"])
        )

    URLs with a user name or password are refused by every policy.
    """

    allow: frozenset[AddressClass] = frozenset()
    networks: tuple[_Network, ...] = ()

    def __post_init__(self) -> None:
        try:
            allow = frozenset(AddressClass(kind) for kind in self.allow)
            networks = tuple(
                n if isinstance(n, _Network) else ipaddress.ip_network(n, strict=False)
                for n in self.networks
            )
        except (ValueError, TypeError) as exc:
            known = ", ".join(kind.value for kind in AddressClass)
            raise InvalidInput(
                _(
                    "a destination policy allows address classes ({known}) and IP networks: "
                    "{error}",
                    known=known,
                    error=exc,
                )
            ) from None
        object.__setattr__(self, "allow", allow)
        object.__setattr__(self, "networks", networks)

    @classmethod
    def allowing(
        cls, *kinds: AddressClass | str, networks: Iterable[_Network | str] = ()
    ) -> DestinationPolicy:
        """A policy that also accepts the given classes (``"loopback"``) and ``networks``
        (``"10.20.0.0/16"``), given as text or values."""
        try:
            return cls(
                allow=frozenset(AddressClass(kind) for kind in kinds),
                networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            )
        except ValueError as exc:
            raise InvalidInput(
                _("not an address class or IP network: {error}", error=exc)
            ) from None

    def refused_class(self, address: IPAddress) -> AddressClass | None:
        """Why ``address`` is refused (its class), or None when it may be connected to."""
        kind = classify(address)
        if kind is None or kind in self.allow:
            return None
        plain = address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            plain = address.ipv4_mapped
        if any(plain.version == n.version and plain in n for n in self.networks):
            return None
        return kind

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, judged from the URL alone; None when it may be.

        Names other than ``localhost`` are judged where they are connected to (their DNS
        answer is only known then); the sentence never contains credentials.
        """
        found = self._refused(url)
        return None if found is None else found[0]

    def _refused(self, url: str) -> tuple[str, AddressClass | None] | None:
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return None  # not a URL any client could fetch; the fetch itself says so
        shown = redact_url(url)
        if "@" in parts.netloc:
            why = _("{url} carries a user name or password, which peppolnet never sends", url=shown)
            return why, None
        if _is_localhost(host):
            if AddressClass.LOOPBACK in self.allow:
                return None
            why = _(
                "{url} names {host}, {phrase}",
                url=shown,
                host=host,
                phrase=AddressClass.LOOPBACK.phrase,
            )
            return why, AddressClass.LOOPBACK
        address = host_address(host)
        kind = None if address is None else self.refused_class(address)
        if address is None or kind is None:
            return None
        why = _(
            "{url} points to {address}, {phrase}",
            url=shown,
            address=_shown_address(address),
            phrase=kind.phrase,
        )
        return why, kind

    def check_url(self, url: str, what: str | None = None) -> None:
        """Raise :class:`~peppolnet.errors.DestinationRefused` if ``url`` may not be fetched
        (``what`` starts the sentence: "the SMP URL from the SML")."""
        found = self._refused(url)
        if found is not None:
            why, kind = found
            message = _("{what} {why}", what=what or _("the URL"), why=why)
            if kind is not None:
                message = _("{refusal}; {consequence}", refusal=message, consequence=_NOT_CONNECTED)
            raise DestinationRefused(message, address_class=kind)

    def check_address(self, address: IPAddress, host: str) -> None:
        """Raise :class:`~peppolnet.errors.DestinationRefused` if ``host``'s ``address`` is
        refused (what the transports call with each address a name resolves to)."""
        kind = self.refused_class(address)
        if kind is not None:
            raise DestinationRefused(
                _(
                    "{host} resolves to {shown_address}, {phrase}; {not_connected}",
                    host=host,
                    shown_address=_shown_address(address),
                    phrase=kind.phrase,
                    not_connected=_NOT_CONNECTED,
                ),
                address_class=kind,
            )

    def check_addresses(self, addresses: Iterable[IPAddress], host: str) -> None:
        """Every address of ``host`` must be allowed: a name that mixes a public address with a
        private one (DNS rebinding's shape) is refused as a whole."""
        for address in addresses:
            self.check_address(address, host)


#: The policy of every built-in network: public addresses only.
PUBLIC_ONLY: Final = DestinationPolicy()
#: The sandbox's policy: its servers all listen on 127.0.0.1.
LOOPBACK_ALLOWED: Final = DestinationPolicy.allowing(AddressClass.LOOPBACK)

_NOT_CONNECTED: Final = _(
    "the network's destination policy refuses such addresses, so nothing was sent there"
)


def _shown_address(address: IPAddress) -> str:
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return f"{address} ({inner})" if inner is not None else str(address)
