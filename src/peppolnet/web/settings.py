"""What an operator changes when it runs the support page: one frozen value.

Everything the page needs besides the network and its services lives here, so an operator
mounting the app reads one class to know every knob, and tests build an app with a
:class:`~peppolnet.clock.ManualClock` and a tiny rate limit without touching globals.
"""

from __future__ import annotations

import dataclasses
import secrets

from peppolnet.clock import SYSTEM_CLOCK, Clock
from peppolnet.web.cache import DEFAULT_BYTES

__all__ = ["WebSettings"]


@dataclasses.dataclass(frozen=True)
class WebSettings:
    """The support page's settings (see docs/web.md, "Settings an operator changes")."""

    title: str = "peppolnet"
    """Branding: the product name in the page header and the browser tab."""
    organisation: str | None = None
    """Branding: the operator's name, shown next to the title."""
    frame_ancestors: str = "'none'"
    """The CSP ``frame-ancestors`` source list: ``'none'`` (not embeddable), ``'self'``, or the
    origins of the operator's own support tools that embed the page."""
    secret_key: str = dataclasses.field(
        default_factory=lambda: secrets.token_urlsafe(32), repr=False
    )
    """Signs the CSRF tokens. Random per process by default; set one shared value when several
    processes serve the same users behind a load balancer."""
    lookups_per_minute: float = 30.0
    """The per-client rate limit of lookups (token bucket refill rate)."""
    lookup_burst: int = 10
    """How many lookups a client may make at once before the rate applies."""
    lookup_deadline: float = 15.0
    """The most one lookup may take (seconds) before its verdict is ``unknown``."""
    dnssec: bool = False
    """Validate the SML's answers with DNSSEC (docs/dnssec.md) in every lookup the app makes:
    searches and traces, the hand-off's check, the cases' follow-ups that run in the background
    (a forged answer must not confirm a request) and register uploads."""
    result_ttl: float = 60.0
    """How long a verdict is reused for the same query (seconds; 0 turns it off). ``unknown``
    answers are never reused."""
    result_cache_bytes: int = DEFAULT_BYTES
    """The most the reused verdicts may hold in memory (estimated bytes; least recently used
    dropped first)."""
    default_country: str | None = "SE"
    """The country of a number typed without one (a VAT number names its own)."""
    max_candidates: int = 5
    """The most verdict cards one search shows."""
    max_body_bytes: int = 20 * 1024 * 1024
    """The largest request body accepted (a customer register upload included)."""
    secure_cookies: bool = False
    """Mark cookies ``Secure`` (set when the page is served over HTTPS)."""
    clock: Clock = SYSTEM_CLOCK
    """The time source of rate limits and lookups."""
