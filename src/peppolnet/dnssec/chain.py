"""The chain of trust a validation walked, zone by zone, as plain values (for a trace).

Why: "the SML's answer is bogus" or "secure" is one sentence; support staff who must find out
*why* need the path behind it - which zones were walked, which keys each had, what vouched for
them (a trust anchor, the DS records in the parent, or keys checked earlier and still within
their TTL), and where an unsigned delegation ended it. :func:`peppolnet.dnssec.validator.validate`
writes a :class:`ChainLink` per zone into a list when it is given one (only a trace asks: a
plain lookup pays nothing for it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final, Literal

import dns.dnssec
import dns.rdatatype
from dns.dnssectypes import Algorithm, DSDigest
from dns.rdtypes.ANY.DNSKEY import DNSKEY

__all__ = ["ChainLink", "Vouch", "digest_facts", "key_facts"]

Vouch = Literal["trust-anchor", "ds", "cache", "no-ds", "unsupported"]
"""What vouched for a zone's keys: a configured trust anchor; DS records signed by the parent
zone; an earlier validation (the keys are kept for their TTL); nothing, because the parent
shows a delegation without a DS record (``no-ds``: the zone is unsigned); nothing peppolnet can
check (``unsupported``: the DS records use only algorithms it does not know)."""

_SEP: Final = 0x0001  # the DNSKEY "secure entry point" flag: a key-signing key (RFC 4034 §2.1.1)


def _algorithm(number: int) -> str:
    try:
        return Algorithm(number).name
    except ValueError:
        return str(number)


def _digest(number: int) -> str:
    try:
        return DSDigest(number).name
    except ValueError:
        return str(number)


def key_facts(keys: Iterable[Any], vouched: Iterable[Any] | None) -> tuple[dict[str, Any], ...]:
    """A zone's DNSKEY records as facts: key tag, algorithm, role (``ksk`` for a key with the
    SEP flag, else ``zsk``) and whether a DS record or trust anchor names one of ``vouched``
    (None: not known - keys checked by an earlier validation)."""
    named = None
    if vouched is not None:
        named = {dns.dnssec.key_id(key) for key in vouched if isinstance(key, DNSKEY)}
    facts = []
    for key in keys:
        if not isinstance(key, DNSKEY) or key.rdtype != dns.rdatatype.DNSKEY:
            continue
        tag = dns.dnssec.key_id(key)
        facts.append(
            {
                "key_tag": tag,
                "algorithm": _algorithm(key.algorithm),
                "role": "ksk" if key.flags & _SEP else "zsk",
                "vouched": None if named is None else tag in named,
            }
        )
    return tuple(facts)


def digest_facts(digests: Iterable[tuple[int, int, int, bytes]]) -> tuple[dict[str, Any], ...]:
    """DS records (or trust anchors) as facts: key tag, algorithm, digest type."""
    return tuple(
        {"key_tag": tag, "algorithm": _algorithm(algorithm), "digest_type": _digest(kind)}
        for tag, algorithm, kind, _value in digests
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ChainLink:
    """One zone on an answer's chain of trust, as the validation used it.

    ``vouched_by`` is a :data:`Vouch`; ``parent`` the zone whose signed DS records vouched (or
    whose signed denial showed there are none); ``keys`` the zone's DNSKEY records and ``ds``
    the DS records or anchors that named them (see :func:`key_facts`, :func:`digest_facts`).
    """

    zone: str
    vouched_by: Vouch
    parent: str = ""
    keys: tuple[dict[str, Any], ...] = ()
    ds: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"zone", "vouched_by", "parent", "keys", "ds"}`` - plain JSON values."""
        return {
            "zone": self.zone,
            "vouched_by": self.vouched_by,
            "parent": self.parent or None,
            "keys": [dict(key) for key in self.keys],
            "ds": [dict(ds) for ds in self.ds],
        }
