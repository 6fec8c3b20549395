"""The sandbox's CRL service: the SMP CA's and the AP CA's CRLs over HTTP, revocable at run time.

Real Peppol CAs publish CRLs at plain-http URLs named in every certificate they issue (Peppol PKI
certificate policy, revocation); the sandbox does the same on 127.0.0.1, so a revocation checker is
tested over a real socket against real signed CRLs. Each CRL is re-signed whenever a certificate is
revoked and whenever half of its (short) lifetime has passed, so a long-running ``sandbox serve``
never hands out an out-of-date CRL by accident. ``set_flaw`` hands out a broken one on purpose -
expired, signed with the wrong key, or not a CRL at all - to show how a checker copes.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from peppolnet.errors import SandboxError
from peppolnet.i18n import _
from peppolnet.sandbox.http import Request, Response
from peppolnet.sandbox.pki import CRL_KINDS, TestPki

__all__ = ["CRL_FLAWS", "CrlService"]

#: What ``set_flaw`` can break: ``expired`` (nextUpdate a day ago), ``wrong-key`` (the right
#: issuer name, signed by the other CA's key), ``garbage`` (bytes that are no CRL).
CRL_FLAWS: Final = ("expired", "wrong-key", "garbage")


class CrlService:
    """The CRLs of the sandbox CAs as an HTTP handler: ``GET /smp-ca.crl`` and ``/ap-ca.crl``.

    ``lifetime`` is the seconds between a CRL's thisUpdate and nextUpdate. ``requests`` counts
    the GETs per kind (``smp``/``ap``) - tests use it to see what a checker's cache saved.
    ``pem=True`` serves PEM instead of DER (both occur in the wild). Thread-safe.
    """

    def __init__(
        self,
        pki: TestPki,
        *,
        lifetime: float = 600.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.pki = pki
        self.lifetime = dt.timedelta(seconds=lifetime)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.pem = False
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._revoked: dict[str, dict[int, tuple[dt.datetime, x509.ReasonFlags | None]]] = {
            kind: {} for kind in CRL_KINDS
        }
        self._flaws: dict[str, str | None] = dict.fromkeys(CRL_KINDS)
        self._issued: dict[str, tuple[x509.CertificateRevocationList, dt.datetime]] = {}
        self._number = 0

    # --- what tests and the runtime call -------------------------------------------------------

    def revoke(
        self,
        kind: str,
        serial: int,
        *,
        when: dt.datetime | None = None,
        reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise,
    ) -> None:
        """List ``serial`` on the ``kind`` CA's CRL as revoked at ``when`` (default now)."""
        _check_kind(kind)
        when = (when or self.clock()).replace(microsecond=0)
        with self._lock:
            self._revoked[kind][serial] = (when, reason)
            self._issued.pop(kind, None)

    def is_revoked(self, kind: str, serial: int) -> bool:
        """Whether ``serial`` is on the ``kind`` CA's CRL."""
        _check_kind(kind)
        with self._lock:
            return serial in self._revoked[kind]

    def set_flaw(self, kind: str, flaw: str | None) -> None:
        """Serve a broken CRL for ``kind`` (one of :data:`CRL_FLAWS`), or a sound one (None)."""
        _check_kind(kind)
        if flaw is not None and flaw not in CRL_FLAWS:
            raise SandboxError(
                _(
                    "unknown CRL flaw {flaw}; use one of {listed}",
                    flaw=repr(flaw),
                    listed=", ".join(CRL_FLAWS),
                )
            )
        with self._lock:
            self._flaws[kind] = flaw
            self._issued.pop(kind, None)

    def crl(self, kind: str) -> x509.CertificateRevocationList:
        """The CRL served for ``kind`` now (re-signed when changed or half-way to nextUpdate)."""
        _check_kind(kind)
        now = self.clock()
        with self._lock:
            issued = self._issued.get(kind)
            if issued is not None and now < issued[1]:
                return issued[0]
            this_update = now.replace(microsecond=0) - dt.timedelta(minutes=1)
            next_update = this_update + self.lifetime
            flaw = self._flaws[kind]
            if flaw == "expired":
                this_update, next_update = now - dt.timedelta(days=2), now - dt.timedelta(days=1)
            signing_key = None
            if flaw == "wrong-key":
                signing_key = self.pki.ca_for("ap" if kind == "smp" else "smp").private_key
            self._number += 1
            crl = self.pki.issue_crl(
                kind,
                [(serial, when, why) for serial, (when, why) in self._revoked[kind].items()],
                this_update=this_update,
                next_update=next_update,
                number=self._number,
                signing_key=signing_key,
            )
            self._issued[kind] = (crl, now + self.lifetime / 2)
            return crl

    # --- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """``GET /{kind}-ca.crl``: the CRL (DER, or PEM with ``pem=True``)."""
        kind = request.path.strip("/").removesuffix("-ca.crl")
        if kind not in CRL_KINDS or not request.path.endswith("-ca.crl"):
            return Response(404, b"no such CRL\n", {"Content-Type": "text/plain"})
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"GET only\n", {"Allow": "GET, HEAD"})
        with self._lock:
            self.requests[kind] += 1
            flaw = self._flaws[kind]
        if flaw == "garbage":
            return Response(200, b"this is not a CRL\n", {"Content-Type": "application/pkix-crl"})
        crl = self.crl(kind)
        if self.pem:
            body = crl.public_bytes(serialization.Encoding.PEM)
            return Response(200, body, {"Content-Type": "application/x-pem-file"})
        body = crl.public_bytes(serialization.Encoding.DER)
        return Response(200, body, {"Content-Type": "application/pkix-crl"})


def _check_kind(kind: str) -> None:
    if kind not in CRL_KINDS:
        raise SandboxError(
            _(
                "no CRL for {kind}; use one of {listed}",
                kind=repr(kind),
                listed=", ".join(CRL_KINDS),
            )
        )
