"""Trust anchors: the keys a DNSSEC chain of trust starts from.

A trust anchor is a DS record (RFC 4034 §5) for a zone whose key is trusted without asking
anyone: ``<zone> <key tag> <algorithm> <digest type> <digest>``. A
:class:`~peppolnet.network.Network` carries its anchors as text (``dnssec_anchors``), so a network
stays a plain value; they are read with :func:`parse_anchors` when a resolver is made.

The real Peppol networks start from the DNS root. IANA publishes the root zone's key-signing keys
as DS records in https://data.iana.org/root-anchors/root-anchors.xml (format: RFC 7958):

* KSK-2017, key tag 20326, RSA/SHA-256 (algorithm 8), valid from 2017-02-02;
* KSK-2024, key tag 38696, RSA/SHA-256, valid from 2024-07-18 (the successor of KSK-2017).

Both are listed, so the root's key rollover needs no new release: a DNSKEY set signed by
either validates. (Cross-checked against the DNSKEY records in Debian's ``dns-root-data``
2024071801, which is generated from the same IANA file: each digest is SHA-256 over the root's
name and that key, RFC 4034 §5.1.4.)

This module imports no DNS library, so a :class:`~peppolnet.network.Network` can name its
anchors without loading dnspython.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _

__all__ = ["ROOT_ANCHORS", "TrustAnchor", "parse_anchor", "parse_anchors"]

ROOT_ANCHORS: Final[tuple[str, ...]] = (
    ". 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
)
"""The IANA root trust anchors (KSK-2017 and KSK-2024) as DS records; see the module notes."""


@dataclasses.dataclass(frozen=True, slots=True)
class TrustAnchor:
    """One DS record to start a chain of trust from: ``zone`` in lower case with its final dot
    (``.`` for the root), the key's tag and algorithm, the digest's type and bytes."""

    zone: str
    key_tag: int
    algorithm: int
    digest_type: int
    digest: bytes

    def __str__(self) -> str:
        return (
            f"{self.zone} {self.key_tag} {self.algorithm} {self.digest_type} "
            f"{self.digest.hex().upper()}"
        )


def _number(text: str, what: Message, top: int, anchor: str) -> int:
    if not text.isdigit() or int(text) > top:
        raise InvalidInput(
            _(
                "the DNSSEC trust anchor {anchor} has a bad {field} ({value})",
                anchor=repr(anchor),
                field=what,
                value=repr(text),
            )
        )
    return int(text)


@functools.lru_cache(maxsize=64)
def parse_anchor(text: str) -> TrustAnchor:
    """A DS record in presentation form, ``zone [IN] [DS] tag algorithm type digest``.

    >>> parse_anchor(ROOT_ANCHORS[0]).key_tag
    20326

    Raises :class:`~peppolnet.errors.InvalidInput` naming what is wrong.
    """
    fields = text.split()
    upper = [f.upper() for f in fields]
    if len(fields) > 1 and upper[1] == "IN":
        fields, upper = [fields[0], *fields[2:]], [upper[0], *upper[2:]]
    if len(fields) > 1 and upper[1] == "DS":
        fields = [fields[0], *fields[2:]]
    if len(fields) < 5:
        raise InvalidInput(
            _(
                "the DNSSEC trust anchor {anchor} is not a DS record (zone key-tag algorithm "
                "digest-type digest)",
                anchor=repr(text),
            )
        )
    zone = fields[0].lower()
    zone = zone if zone.endswith(".") else zone + "."
    if zone != "." and not all(zone[:-1].split(".")):
        raise InvalidInput(
            _("the DNSSEC trust anchor {anchor} names no valid zone", anchor=repr(text))
        )
    try:
        digest = bytes.fromhex("".join(fields[4:]))
    except ValueError:
        raise InvalidInput(
            _("the DNSSEC trust anchor {anchor} has a digest that is not hex", anchor=repr(text))
        ) from None
    if not digest:
        raise InvalidInput(
            _("the DNSSEC trust anchor {anchor} has an empty digest", anchor=repr(text))
        )
    return TrustAnchor(
        zone,
        _number(fields[1], _("key tag"), 0xFFFF, text),
        _number(fields[2], _("algorithm"), 0xFF, text),
        _number(fields[3], _("digest type"), 0xFF, text),
        digest,
    )


def parse_anchors(texts: Iterable[str]) -> tuple[TrustAnchor, ...]:
    """Every anchor in ``texts`` (see :func:`parse_anchor`); an empty result is allowed (no
    anchor: every answer is then *insecure*, there being nothing to validate against)."""
    if isinstance(texts, str):
        raise InvalidInput(_("DNSSEC trust anchors are a list of DS records, not one string"))
    return tuple(parse_anchor(text) for text in texts)
