"""The sandbox Directory's export: every file of ``/export/``, made from its own participants.

It behaves as the production Directory does where a client can tell: ``GET /export/<file>``
answers with a redirect to a static copy on another server (production redirects to its
static host), each file may be fetched 3 times per client address in any 24 hours (sliding,
per file; then HTTP 429 with ``Retry-After``), and the static server sends the file
gzip-compressed to a client that asks for it. The files are written from the Directory's
entries at the moment they are asked for (production makes them once a day), with the code
list's names and states for document types, so a test that changes the network sees the change
in the next export.

``tamper`` lets a test damage what is served (cut the gzip, break one card) to check that a
client reports it.
"""

from __future__ import annotations

import gzip
import io
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from peppolnet.clock import Clock, as_clock
from peppolnet.directory.export.kinds import EXPORT_PATH, ExportKind
from peppolnet.directory.export.records import ExportCard, ExportDocumentType
from peppolnet.directory.export.write import write_export
from peppolnet.identifiers import DocumentTypeId
from peppolnet.sandbox.http import Request, Response

if TYPE_CHECKING:
    from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService

__all__ = ["STATIC_PATH", "ExportService", "export_card"]

#: Where a Directory without a static server of its own serves the files.
STATIC_PATH: Final = "/export-files/"
_TYPES: Final = {"xml": "application/xml", "json": "application/json", "csv": "text/csv"}
_WINDOW: Final = timedelta(hours=24)


def _doctype(doc: DocumentTypeId) -> ExportDocumentType:
    from peppolnet.codelists import document_type_entry

    entry = document_type_entry(doc)
    if entry is None:
        return ExportDocumentType(doc.scheme, doc.value, non_standard=True)
    return ExportDocumentType(doc.scheme, doc.value, entry.name, entry.state.value)


def export_card(entry: DirectoryEntry) -> ExportCard:
    """A Directory entry as the export writes it."""
    pid = entry.participant
    return ExportCard(
        pid.scheme, pid.value, entry.entities, tuple(_doctype(d) for d in entry.document_types)
    )


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status, (message + "\n").encode(), {"Content-Type": "text/plain", **(headers or {})}
    )


class ExportService:
    """The export of ``directory`` (see the module notes). ``static_base`` is the static
    server's base URL (None: this service serves the files itself under ``/export-files/``);
    ``daily_limit`` the downloads per file and address in 24 hours, by ``clock``."""

    def __init__(
        self,
        directory: DirectoryService,
        *,
        clock: Clock | None = None,
        daily_limit: int = 3,
        static_base: str | None = None,
    ) -> None:
        self.directory = directory
        self.clock = as_clock(clock)
        self.daily_limit = daily_limit
        self.static_base = static_base
        #: Damages what is served: ``tamper(kind, body) -> body`` (tests of broken exports).
        self.tamper: Callable[[ExportKind, bytes], bytes] | None = None
        #: Files served so far, and requests refused with 429.
        self.served = 0
        self.refused = 0
        self._hits: dict[tuple[str, ExportKind], deque[datetime]] = {}
        self._lock = threading.Lock()

    def render(self, kind: ExportKind) -> bytes:
        """The file ``kind`` as it would be served now (before any ``tamper``)."""
        cards = [export_card(e) for e in self.directory.entries() if e.entities]
        out = io.BytesIO()
        write_export(cards, kind, out, created=self.clock.now())
        return out.getvalue()

    def __call__(self, request: Request) -> Response:
        return self.handle(request)

    def handle(self, request: Request) -> Response:
        """``/export/<file>`` (the redirect) and ``/export-files/<name>`` (the file itself)."""
        if request.method not in ("GET", "HEAD"):
            return _text(405, "Only GET is supported.", {"Allow": "GET"})
        if request.path.startswith(STATIC_PATH):
            return self.serve_file(request)
        name = request.path[len(EXPORT_PATH) :].strip("/")
        kind = next((k for k in ExportKind if k.value == name), None)
        if kind is None or not request.path.startswith(EXPORT_PATH):
            return _text(404, f"Not found: {request.path}")
        if self._over_limit(request.client[0], kind):
            return _text(
                429,
                f"Too many downloads of {kind.path}: at most {self.daily_limit} per day.",
                {"Retry-After": str(int(_WINDOW.total_seconds()))},
            )
        base = self.static_base or ""
        return Response(302, b"", {"Location": f"{base}{STATIC_PATH}{kind.filename}"})

    def serve_file(self, request: Request) -> Response:
        """The static copy: the file, gzip-compressed when the client accepts gzip."""
        name = request.path[len(STATIC_PATH) :].strip("/")
        kind = next((k for k in ExportKind if k.filename == name), None)
        if kind is None or not request.path.startswith(STATIC_PATH):
            return _text(404, f"Not found: {request.path}")
        body = self.render(kind)
        headers = {
            "Content-Type": _TYPES[kind.format],
            "Content-Disposition": f'attachment; filename="{kind.filename}"',
        }
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            body = gzip.compress(body, compresslevel=5, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if self.tamper is not None:
            body = self.tamper(kind, body)
        with self._lock:
            self.served += 1
        return Response(200, body, headers)

    def _over_limit(self, client: str, kind: ExportKind) -> bool:
        """The Directory's limiter: a sliding 24 hours per address and file; a refused
        request is not counted."""
        now = self.clock.now()
        with self._lock:
            hits = self._hits.setdefault((client, kind), deque())
            while hits and hits[0] <= now - _WINDOW:
                hits.popleft()
            if len(hits) >= self.daily_limit:
                self.refused += 1
                return True
            hits.append(now)
            return False
