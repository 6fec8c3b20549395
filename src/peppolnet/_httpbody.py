"""Reading an HTTP body with httpx without letting a compression bomb through.

httpx decodes ``Content-Encoding`` chunk by chunk with no bound on the output: 1.8 KB of
``gzip, gzip`` on the wire became ~2 GB in memory before any size check could run (found in
review). So every request (:func:`peppolnet._http.fetch`, sync and async alike) reads the *raw*
chunks (``iter_raw``) and decodes them here, asking zlib for at most the bytes still allowed: an
answer costs at most ``limit`` bytes however it is encoded. Only what peppolnet advertises
(:data:`ACCEPT_ENCODING`: one layer of gzip or deflate) is decoded; anything else is refused as
:class:`UnsupportedEncoding`. A reader that asks for ``identity`` (CRLs) accepts no coding at all.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Final

from peppolnet.i18n import _

__all__ = ["ACCEPT_ENCODING", "BoundedBody", "BrokenBody", "UnsupportedEncoding"]

#: The ``Accept-Encoding`` every peppolnet HTTP request sends (never br/zstd, which httpx would
#: advertise when their packages happen to be installed).
ACCEPT_ENCODING: Final = "gzip, deflate"
_COMPRESSED: Final = frozenset({"gzip", "x-gzip", "deflate"})


class UnsupportedEncoding(ValueError):
    """The answer's Content-Encoding is not one peppolnet asked for."""


class BrokenBody(ValueError):
    """The compressed body does not decompress (corrupt or cut off)."""


class BoundedBody:
    """Collects a body from raw chunks, decoding at most ``limit`` bytes.

    ``add`` returns False once the body is larger than ``limit`` (``truncated`` is then set and
    nothing more is kept): stop reading. ``value()`` is what was kept. ``decode=False``: the
    body is taken as sent, and any content coding is refused. ``keep=True``: one advertised
    coding is accepted but not decoded (``limit`` then counts the bytes as sent). ``sink``: each
    piece goes there instead of being kept (``value()`` is then empty).
    """

    def __init__(
        self,
        limit: int,
        content_encoding: str | None,
        *,
        decode: bool = True,
        keep: bool = False,
        sink: Callable[[bytes], object] | None = None,
    ) -> None:
        layers = [
            part.strip().lower()
            for part in (content_encoding or "").split(",")
            if part.strip() and part.strip().lower() != "identity"
        ]
        if layers and not decode:
            raise UnsupportedEncoding(
                _(
                    "the answer was sent with Content-Encoding {content_encoding}; "
                    "peppolnet asks for and accepts only an unencoded answer here",
                    content_encoding=repr(content_encoding),
                )
            )
        if len(layers) > 1 or (layers and layers[0] not in _COMPRESSED):
            raise UnsupportedEncoding(
                _(
                    "the answer is encoded as {content_encoding}; only one layer of gzip or"
                    " deflate is accepted",
                    content_encoding=repr(content_encoding),
                )
            )
        # MAX_WBITS | 32: a gzip or zlib header, detected (HTTP "deflate" means zlib)
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32) if layers and not keep else None
        self._sink = sink
        self.limit = limit
        self.size = 0
        self.truncated = False
        self._parts: list[bytes] = []

    def add(self, raw: bytes) -> bool:
        """Take one raw chunk; False when the body has outgrown ``limit``."""
        if self.truncated:
            return False
        if self._zlib is None:
            return self._keep(raw)
        room = self.limit - self.size + 1  # one byte more than allowed proves "too large"
        try:
            data = self._zlib.decompress(raw, room)
        except zlib.error as exc:
            raise BrokenBody(_("the compressed answer is broken: {exc}", exc=str(exc))) from None
        if self._zlib.unconsumed_tail:  # zlib stopped at ``room``: more was coming
            self.truncated = True
            return False
        return self._keep(data)

    def finish(self) -> None:
        """After the last chunk: what zlib still holds (small: within its window)."""
        if self._zlib is None or self.truncated:
            return
        try:
            rest = self._zlib.flush()
        except zlib.error as exc:
            raise BrokenBody(_("the compressed answer is broken: {exc}", exc=str(exc))) from None
        if not self._zlib.eof:
            raise BrokenBody(_("the compressed answer is cut off"))
        self._keep(rest)

    def _keep(self, data: bytes) -> bool:
        self.size += len(data)
        if self.size > self.limit:
            self.truncated = True
            return False
        if data:
            if self._sink is not None:
                self._sink(data)
            else:
                self._parts.append(data)
        return True

    def value(self) -> bytes:
        return b"".join(self._parts)
