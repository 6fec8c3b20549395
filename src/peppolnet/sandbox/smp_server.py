"""One sandbox SMP: the REST read side (ServiceGroup, signed ServiceMetadata, business card).

:class:`SmpService` is the request handler for :class:`~peppolnet.sandbox.http.HttpServer`. It
holds the participants it publishes as :class:`Publication` values (everything needed to render
their documents, quirks included) and answers ``GET {base}/{pid}``,
``GET {base}/{pid}/services/{doctype}`` and ``GET {base}/businesscard/{pid}``; OASIS SMP 2
SMPs answer under ``{base}/bdxr-smp-2/`` as well as directly under ``{base}``.

Signing is the expensive step and thousands of lookups hit the same few documents, so the signed
bytes are rendered lazily and cached per (participant, document type); publishing or withdrawing
a participant drops its cache entries. All methods are thread-safe: the operator desk changes
publications while the server answers.
"""

from __future__ import annotations

import datetime as dt
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from peppolnet.errors import PeppolnetError
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.sandbox import render
from peppolnet.sandbox.config import OLD_TRANSPORT_PROFILE, ParticipantConfig
from peppolnet.sandbox.http import Request, Response
from peppolnet.sandbox.pki import IssuedCertificate
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.xmldsig import RSA_SHA1, RSA_SHA256, SHA1, SHA256

__all__ = ["Publication", "SmpService"]

#: The endpoint URL written into documents whose signature is then broken on purpose.
TAMPERED_URL: Final = "https://tampered.sandbox.peppolnet.test/as4"
#: The participant a ``wrong-participant-echo`` document names instead of the one asked for.
WRONG_ECHO: Final = ParticipantId.parse("iso6523-actorid-upis::0088:7300010000001")
_XML: Final = {"Content-Type": "application/xml; charset=UTF-8"}


@dataclass(frozen=True)
class Publication:
    """What one SMP publishes for one participant.

    ``redirect`` = (target SMP base URL, CertificateUID, target signer certificate DER): answer
    every ServiceMetadata request with a signed Redirect instead of the metadata itself.
    """

    participant: ParticipantConfig
    ap_url: str
    ap_certificate: bytes
    signer: IssuedCertificate
    transport_profile: str
    redirect: tuple[str, str, bytes] | None = None
    card: bytes | None = None
    quirks: frozenset[str] = field(default_factory=frozenset)


class SmpService:
    """The handler of one SMP server; ``base_url`` is set by the runtime once the port is known."""

    def __init__(
        self,
        smp_id: str,
        dialect: str,
        path: str = "",
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.smp_id = smp_id
        self.dialect = dialect
        self.path = path.rstrip("/")
        self.origin = ""  # "https://127.0.0.1:PORT", set after start
        self._clock = clock
        self._lock = threading.Lock()
        self._published: dict[ParticipantId, Publication] = {}
        self._cache: dict[tuple[ParticipantId, DocumentTypeId | None], bytes] = {}
        self.renders = 0  # how many documents were rendered (and signed): cache effectiveness

    @property
    def base_url(self) -> str:
        """The SMP base URL as published in the SML (origin plus path)."""
        return self.origin + self.path

    # --- publications --------------------------------------------------------------------------

    def publish(self, publication: Publication) -> None:
        pid = publication.participant.id
        with self._lock:
            self._published[pid] = publication
            for key in [k for k in self._cache if k[0] == pid]:
                del self._cache[key]

    def withdraw(self, participant: ParticipantId) -> bool:
        with self._lock:
            found = self._published.pop(participant, None) is not None
            for key in [k for k in self._cache if k[0] == participant]:
                del self._cache[key]
            return found

    def publication(self, participant: ParticipantId) -> Publication | None:
        with self._lock:
            return self._published.get(participant)

    @property
    def participants(self) -> list[ParticipantId]:
        with self._lock:
            return list(self._published)

    # --- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"the sandbox SMP is read-only\n", {"Allow": "GET, HEAD"})
        path = request.path
        if self.path:
            if not (path == self.path or path.startswith(self.path + "/")):
                return Response(404, b"not an SMP path\n")
            path = path[len(self.path) :]
        if self.dialect == "oasis-smp-2" and path.startswith("/bdxr-smp-2/"):
            path = path[len("/bdxr-smp-2") :]
        parts = path.strip("/").split("/")
        try:
            if len(parts) == 2 and parts[0] == "businesscard":
                return self._card(self._pid(parts[1]))
            if len(parts) == 1 and parts[0]:
                return self._document(self._pid(parts[0]), None)
            if len(parts) == 3 and parts[1] == "services":
                doc = DocumentTypeId.parse(urllib.parse.unquote(parts[2]))
                return self._document(self._pid(parts[0]), doc)
        except PeppolnetError as exc:
            return Response(400, f"{exc}\n".encode())
        return Response(404, b"no such SMP resource\n")

    @staticmethod
    def _pid(segment: str) -> ParticipantId:
        return ParticipantId.parse(urllib.parse.unquote(segment), lax=True)

    def _card(self, pid: ParticipantId) -> Response:
        pub = self.publication(pid)
        if pub is None or pub.card is None:
            return Response(404, b"no business card for this participant\n")
        return Response(200, pub.card, dict(_XML))

    def _document(self, pid: ParticipantId, doc: DocumentTypeId | None) -> Response:
        pub = self.publication(pid)
        if pub is None:
            return Response(404, b"participant not found on this SMP\n")
        if "smp-500" in pub.quirks:
            return Response(500, b"internal error (sandbox quirk smp-500)\n")
        if doc is not None and doc not in pub.participant.document_types:
            return Response(404, b"document type not registered for this participant\n")
        key = (pid, doc)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._render(pub, doc)
            with self._lock:
                if self._published.get(pid) is pub:  # not replaced meanwhile
                    self._cache[key] = cached
        return Response(200, cached, dict(_XML))

    # --- rendering -----------------------------------------------------------------------------

    def _render(self, pub: Publication, doc: DocumentTypeId | None) -> bytes:
        self.renders += 1
        p = pub.participant
        if doc is None:
            refs = [
                (d, f"{self.base_url}/{p.id.url_segment()}/services/{d.url_segment()}")
                for d in p.document_types
            ]
            return render.serialise(render.service_group(self.dialect, p.id, refs))
        if pub.redirect is not None:
            target, uid, target_der = pub.redirect
            href = f"{target.rstrip('/')}/{p.id.url_segment()}/services/{doc.url_segment()}"
            root = render.redirect(self.dialect, p.id, doc, href, uid, target_der)
            return self._sign(root, pub)
        now = self._clock()
        activation = expiration = None
        if "endpoint-not-yet-active" in pub.quirks:
            activation = now + dt.timedelta(days=30)
        if "endpoint-expired" in pub.quirks:
            activation, expiration = now - dt.timedelta(days=400), now - dt.timedelta(days=30)
        endpoint = render.EndpointData(
            url=pub.ap_url,
            transport_profile=(
                str(OLD_TRANSPORT_PROFILE)
                if "old-transport-profile" in pub.quirks
                else pub.transport_profile
            ),
            certificate_der=pub.ap_certificate,
            activation=activation,
            expiration=expiration,
        )
        echoed = WRONG_ECHO if "wrong-participant-echo" in pub.quirks else p.id
        root = render.service_metadata(self.dialect, echoed, doc, p.process, [endpoint])
        return self._sign(root, pub)

    def _sign(self, root: etree._Element, pub: Publication) -> bytes:
        if "unsigned" in pub.quirks:
            return render.serialise(root)
        sha1 = "sha1-signature" in pub.quirks
        sign_enveloped(
            root,
            pub.signer.private_key,
            pub.signer.certificate,
            signature_method=RSA_SHA1 if sha1 else RSA_SHA256,
            digest_method=SHA1 if sha1 else SHA256,
        )
        if "bad-signature" in pub.quirks:
            for el in root.iter():
                local = etree.QName(el).localname
                if local in ("Address", "EndpointURI", "AddressURI", "PublisherURI"):
                    el.text = TAMPERED_URL
                elif local == "Redirect" and el.get("href"):
                    el.set("href", TAMPERED_URL)
        return render.serialise(root)


def certificate_der(issued: IssuedCertificate) -> bytes:
    """DER bytes of an issued certificate (what SMP documents embed, base64-encoded)."""
    return issued.certificate.public_bytes(Encoding.DER)
