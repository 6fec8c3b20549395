"""DNSSEC: whether an SML answer is vouched for by a chain of signatures from a trust anchor.

Opt-in (``Lookup(dnssec=True)``, ``--dnssec``): DNS answers are not authenticated, so a forged
NAPTR record or a forged "no such name" could steer a lookup; a validated chain of trust rules
both out. Three parts, all pure (no sockets, time passed in):

* :mod:`peppolnet.dnssec.anchors` - trust anchors as DS records, the IANA root's included;
* :mod:`peppolnet.dnssec.validator` - one answer's validation as a generator of the DNSKEY and
  DS questions it needs (driven by the SML resolvers through :mod:`peppolnet.dnsquery`);
* :mod:`peppolnet.dnssec.denial` - what signed NSEC / NSEC3 records prove.

See docs/dnssec.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peppolnet.dnssec.anchors import ROOT_ANCHORS, TrustAnchor, parse_anchor, parse_anchors

__all__ = [
    "ROOT_ANCHORS",
    "DnssecResult",
    "DnssecStatus",
    "KeyCache",
    "Query",
    "TrustAnchor",
    "parse_anchor",
    "parse_anchors",
    "validate",
]


if TYPE_CHECKING:
    from peppolnet.dnssec.validator import DnssecResult as DnssecResult
    from peppolnet.dnssec.validator import DnssecStatus as DnssecStatus
    from peppolnet.dnssec.validator import KeyCache as KeyCache
    from peppolnet.dnssec.validator import Query as Query
    from peppolnet.dnssec.validator import validate as validate


def __getattr__(name: str) -> object:
    # the validator imports dnspython's DNSSEC code (and cryptography): only when it is used
    if name in ("DnssecResult", "DnssecStatus", "KeyCache", "Query", "validate"):
        from peppolnet.dnssec import validator

        return getattr(validator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
