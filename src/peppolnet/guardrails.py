"""Guardrails for the network's changes: plain-language checks every lookup makes (pure).

The Peppol network changed under many configurations at once, and the answers that follow are
the ones support staff cannot explain: an SMP still published on http, an SMP or access point
certificate from the retired G2 PKI, an endpoint on a transport that was removed years ago. A
lookup already refuses most of them somewhere; these functions make sure each gets a check of
its own whose sentence says what changed and when, even where the configuration would let it
pass (a network whose trust store still holds the G2 CAs, one that allows http):

* :func:`smp_https`: the SMP URL from the SML must be https (Peppol SMP specification 1.4: http
  is no longer allowed from 2026-02-01).
* :func:`g2_check`: a certificate issued by a Peppol PKI G2 CA (G2 stopped being valid on
  2026-04-01, Peppol PKI G2 to G3 migration): a warning before that day, a failure from it.
* :func:`transport_problem`: endpoints on transport profiles the Peppol code list has deprecated
  or removed (START, AS2, AS4 1.0; only ``peppol-transport-as4-v2_0`` is active).

docs/verdicts.md explains each check for support staff.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Final

from peppolnet.codelists import SchemeState, transport_profiles
from peppolnet.destinations import redact_url
from peppolnet.i18n import _
from peppolnet.identifiers import TRANSPORT_AS4
from peppolnet.reachability import CheckStatus

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "G2_END",
    "HTTPS_REQUIRED_FROM",
    "g2_check",
    "g2_issuer",
    "is_g2_ca",
    "smp_https",
    "transport_problem",
]

HTTPS_REQUIRED_FROM: Final = "2026-02-01"
"""From this day Peppol SMPs are reached over https only (Peppol SMP specification 1.4)."""
G2_END: Final = datetime(2026, 4, 1, tzinfo=UTC)
"""The day the Peppol PKI G2 stopped being valid (its certificates were revoked)."""

# The Peppol G2 CAs are named "PEPPOL <role> [TEST ]CA - G2" (production and test, root and
# issuing CAs alike); the compiled anchors are matched by fingerprint besides.
_G2_NAME: Final = re.compile(r"PEPPOL\b.*\bCA - G2", re.IGNORECASE)
_MEMO_SIZE: Final = 256
# id -> (the certificate, kept alive so its id stays its own; whether it is a G2 CA)
_G2_MEMO: dict[int, tuple[x509.Certificate, bool]] = {}


def smp_https(url: str, *, require_https: bool, network: str) -> tuple[CheckStatus, str]:
    """The ``https`` check of the SMP URL the SML gave: pass on https; on http a failure where
    the network requires https, else a warning (the Peppol network itself does not allow it)."""
    if url.lower().startswith("https://"):
        return CheckStatus.PASS, _("the SMP is published on https")
    shown = redact_url(url)
    if require_https:
        return CheckStatus.FAIL, (
            _(
                "the SMP is published on plain http ({url}); Peppol requires https, "
                "so senders will not use it",
                url=shown,
            )
        )
    return CheckStatus.WARN, (
        _(
            "the SMP is published on plain http ({url}); Peppol requires https since {day}, so "
            "senders on the Peppol network will not use it (the {network} network allows it)",
            url=shown,
            day=HTTPS_REQUIRED_FROM,
            network=network,
        )
    )


@functools.cache
def _g2_fingerprints() -> frozenset[str]:
    """SHA-256 fingerprints of the compiled G2 CA certificates (data/trust/fingerprints.json)."""
    path = resources.files("peppolnet").joinpath("data", "trust", "fingerprints.json")
    record: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(v["sha256"].lower() for k, v in record.items() if k.startswith("g2-"))


def _is_g2_ca(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a Peppol PKI G2 CA: one of the compiled G2 anchors, or a CA named
    as the G2 CAs are. Remembered by identity: reading a certificate's subject rebuilds the
    name in Python, and a lookup meets the same few anchors every time."""
    found = _G2_MEMO.get(id(cert))
    if found is not None and found[0] is cert:
        return found[1]
    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives import hashes

    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    names = cert.subject.get_attributes_for_oid(_x509.NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    g2 = fingerprint in _g2_fingerprints() or _G2_NAME.fullmatch(common_name) is not None
    if len(_G2_MEMO) >= _MEMO_SIZE:
        _G2_MEMO.clear()
    _G2_MEMO[id(cert)] = (cert, g2)
    return g2


def is_g2_ca(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a CA of the Peppol PKI G2 (by fingerprint or name; see above): what
    ``peppolnet doctor`` asks of every CA in a network's trust store."""
    return _is_g2_ca(cert)


def g2_issuer(path: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The first CA of a validated ``path`` (leaf first) that belongs to the Peppol PKI G2."""
    return next((cert for cert in path[1:] if _is_g2_ca(cert)), None)


def g2_check(
    whose: str, path: Sequence[x509.Certificate], at: datetime
) -> tuple[CheckStatus, str] | None:
    """A check for a certificate whose validated ``path`` runs through a G2 CA (None when it
    does not): a warning before :data:`G2_END`, a failure from then on. ``whose`` is ``smp``
    or ``ap``: the sentence names the SMP's or the access point certificate."""
    issuer = g2_issuer(path)
    if issuer is None:
        return None
    from cryptography import x509 as _x509

    names = issuer.subject.get_attributes_for_oid(_x509.NameOID.COMMON_NAME)
    ca = str(names[0].value) if names else issuer.subject.rfc4514_string()
    day = f"{G2_END:%Y-%m-%d}"
    if at < G2_END:
        if whose == "smp":
            text = _(
                "the SMP's certificate was issued by {ca} of the Peppol PKI G2, which is valid "
                "only until {day}; the SMP must sign with a G3 certificate before then",
                ca=ca,
                day=day,
            )
        else:
            text = _(
                "the access point certificate was issued by {ca} of the Peppol PKI G2, which is "
                "valid only until {day}; the operator must move to a G3 certificate before then",
                ca=ca,
                day=day,
            )
        return CheckStatus.WARN, text
    if whose == "smp":
        text = _(
            "the SMP's certificate was issued by {ca} of the Peppol PKI G2, which stopped being "
            "valid on {day}, so its answer cannot be trusted",
            ca=ca,
            day=day,
        )
    else:
        text = _(
            "the access point certificate was issued by {ca} of the Peppol PKI G2, which "
            "stopped being valid on {day}; senders no longer accept it",
            ca=ca,
            day=day,
        )
    return CheckStatus.FAIL, text


def _describe(profile: str) -> str:
    """``profile`` with its state in the code list, for a sentence."""
    entry = next((e for e in transport_profiles() if e.profile.value == profile), None)
    if entry is None:
        return _("{profile} (not in the Peppol code list)", profile=profile)
    if entry.state is SchemeState.REMOVED and entry.removal_date:
        return _(
            "{profile} (removed from the Peppol code list on {day})",
            profile=profile,
            day=entry.removal_date,
        )
    if entry.state is SchemeState.DEPRECATED:
        return _("{profile} (deprecated in the Peppol code list)", profile=profile)
    return profile


def _listing(items: Sequence[str]) -> str:
    """``a, b, c`` that stays a message: each item renders in the reader's language."""
    if len(items) == 1:
        return items[0]
    return _("{first}, {rest}", first=items[0], rest=_listing(items[1:]))


def transport_problem(profiles: Iterable[str], *, usable: bool) -> str | None:
    """The sentence for endpoints on other profiles than AS4 2.0 (None when there are none).

    ``usable``: an AS4 2.0 endpoint exists too, so the others only warn; otherwise the sentence
    is the failure's, naming each profile the SMP lists with its state in the code list.
    """
    others = sorted({p for p in profiles if p != TRANSPORT_AS4.value})
    if not others and usable:
        return None
    listed = _listing([_describe(p) for p in others]) if others else _("none")
    if usable:
        return _(
            "the endpoint uses {active}; the SMP also lists {others}, which senders no longer use",
            active=TRANSPORT_AS4.value,
            others=listed,
        )
    return _(
        "no endpoint uses {active}, the only active Peppol transport (found: {others})",
        active=TRANSPORT_AS4.value,
        others=listed,
    )
