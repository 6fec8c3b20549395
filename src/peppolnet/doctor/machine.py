"""The machine itself: its clock, and the proxies in its environment.

**Clock.** Certificates, SMP signatures, endpoint activation dates, CRLs and DNSSEC signatures
are all judged by this machine's "now": a clock hours off makes valid answers look expired, or
expired ones valid. It is compared with the ``Date`` header (RFC 9110 §6.6.1) of the network's
Directory, fetched through the same HTTP layer as every lookup (limits, the destination policy).

**Proxies.** HTTPS to SMPs, the Directory and CRLs goes through the proxy the environment names
(``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, unless ``NO_PROXY`` names the host), as curl and
httpx do; DNS never does. A lookup that works at home and not at the office is often this.
"""

from __future__ import annotations

import email.utils
import os
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import httpx

from peppolnet import _http
from peppolnet._tls import context
from peppolnet.destinations import redact_url
from peppolnet.doctor.model import Finding
from peppolnet.errors import PeppolnetError
from peppolnet.i18n import _, message_of
from peppolnet.network import Network
from peppolnet.reachability import CheckStatus

__all__ = ["SKEW_FAIL", "SKEW_WARN", "clock_skew", "proxies", "server_date"]

SKEW_WARN: Final = 60.0
"""Seconds of difference that earn a warning."""
SKEW_FAIL: Final = 300.0
"""Seconds of difference that fail: five minutes, as Kerberos allows - beyond it, validity
dates near the edges are misjudged."""


def server_date(network: Network, timeout: float) -> tuple[str, datetime | str]:
    """The Directory's URL and the time its ``Date`` header says, or why there is none."""
    url = network.directory_url or ""
    try:
        verify = context(network.tls_verify)
        with (
            _http.client(verify, timeout=timeout) as client,
            _http.scope(seconds=timeout, destinations=network.destinations),
        ):
            answer = _http.fetch(client, _http.Fetch(url, 1024, method="HEAD"))
    except _http.HttpFault as fault:
        return url, fault.detail
    except PeppolnetError as exc:  # a refused destination, an unreadable CA bundle
        return url, exc.message
    header = answer.headers.get("date", "")
    try:
        return url, email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return url, _("it sent no usable Date header")


def clock_skew(network: Network, now: datetime, timeout: float) -> Finding:
    """This machine's clock (``now``, the injected clock) against the Directory's."""
    if not network.directory_url:
        message = _(
            "the {network} network names no Directory to compare the clock with",
            network=network.name,
        )
        return Finding("clock", CheckStatus.SKIPPED, message)
    url, date = server_date(network, timeout)
    host = urllib.parse.urlsplit(url).hostname or url
    if not isinstance(date, datetime):
        return Finding(
            "clock",
            CheckStatus.WARN,
            _(
                "the clock could not be compared: {host} did not tell the time ({reason})",
                host=host,
                reason=date,
            ),
            _("check the network connection and the proxies; then run doctor again"),
            url,
        )
    skew = (now - date).total_seconds()
    seconds = round(abs(skew))
    if abs(skew) <= SKEW_WARN:
        message = _(
            "this machine's clock agrees with {host} (within {seconds} s)",
            host=host,
            seconds=max(seconds, 1),
        )
        return Finding("clock", CheckStatus.PASS, message, subject=url)
    if skew > 0:
        message = _(
            "this machine's clock is {seconds} s ahead of {host}", seconds=seconds, host=host
        )
    else:
        message = _("this machine's clock is {seconds} s behind {host}", seconds=seconds, host=host)
    status = CheckStatus.FAIL if abs(skew) > SKEW_FAIL else CheckStatus.WARN
    fix = _(
        "set the clock right (turn on NTP time synchronisation): certificates, signatures "
        "and DNSSEC are judged by it"
    )
    return Finding("clock", status, message, fix, url)


def _proxy_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """``{"https": url, "no": hosts, ...}`` as urllib reads them: ``*_proxy`` variables, the
    lower-case spelling first (``REQUEST_METHOD`` set means CGI, where HTTP_PROXY is not ours)."""
    found: dict[str, str] = {}
    for name in sorted(environ, key=lambda n: n.islower()):  # lower case last: it wins
        value = environ[name]
        if name.lower().endswith("_proxy") and value:
            found[name.lower()[: -len("_proxy")]] = value
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    return found


def proxies(network: Network, environ: Mapping[str, str] | None = None) -> Finding:
    """The proxies the environment names, and whether the HTTP layer can use them."""
    env = os.environ if environ is None else environ
    settings = _proxy_settings(env)
    named = {k: v for k, v in settings.items() if k != "no"}
    if not named:
        return Finding(
            "proxies",
            CheckStatus.PASS,
            _("no proxy is set in the environment: SMPs and the Directory are asked directly"),
        )
    shown = ", ".join(f"{k.upper()}_PROXY={redact_url(v)}" for k, v in sorted(named.items()))
    host = urllib.parse.urlsplit(network.directory_url or "https://smp.example").hostname or ""
    try:
        _http.Proxies(settings).choose("https", host)
    except httpx.UnsupportedProtocol as exc:
        return Finding(
            "proxies",
            CheckStatus.FAIL,
            _(
                "the environment names a proxy peppolnet cannot use ({proxies}): {reason}",
                proxies=shown,
                reason=message_of(exc),
            ),
            _("name an HTTP(S) proxy in HTTPS_PROXY (SOCKS is not supported), or unset it"),
            shown,
        )
    bypass = settings.get("no")
    message = _(
        "requests to SMPs, the Directory and CRLs go through the proxy ({proxies}; not for: "
        "{bypass}); DNS questions do not - lookups need the resolver directly",
        proxies=shown,
        bypass=bypass or "-",
    )
    return Finding(
        "proxies",
        CheckStatus.WARN,
        message,
        _(
            "if SMPs cannot be reached from here, check that the proxy lets their hosts through, "
            "or name them in NO_PROXY"
        ),
        shown,
    )
