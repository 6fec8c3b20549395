"""An export file as a stream of bytes: opened, un-gzipped when it is gzip, read in chunks.

A downloaded export may be stored as it was sent (gzip, when the server compressed it), and
people keep old snapshots gzipped, so every reader takes either: gzip is recognised by its
magic bytes, not by the file name. Decompression asks zlib for at most one chunk at a time, so
memory stays flat however the file was compressed, and a gzip stream that stops before its end
(a download cut off, a disk that filled up) is not mistaken for a short export: the reader gets
the bytes that were there and :attr:`ChunkSource.problem` says the file is cut off.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from peppolnet.directory.export.records import ExportProblem
from peppolnet.i18n import _

__all__ = ["CHUNK", "ChunkSource", "source_of"]

#: Bytes read (and decompressed) at a time: large enough that per-chunk work is negligible,
#: small enough that memory stays flat.
CHUNK: Final = 1 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"


class ChunkSource:
    """The decoded bytes of ``file`` (a path or a binary file object) in chunks of about
    :data:`CHUNK`; ``compressed`` tells whether it was gzip, ``offset`` how many decoded bytes
    were handed out so far, ``problem`` what ended the stream early (None after a clean end)."""

    def __init__(self, file: str | Path | BinaryIO, chunk_size: int = CHUNK) -> None:
        self._own = isinstance(file, str | Path)
        self._raw: BinaryIO
        if isinstance(file, str | Path):
            self._raw = Path(file).open("rb")  # noqa: SIM115 - closed by close()
        else:
            self._raw = file
        self.chunk_size = chunk_size
        self.offset = 0
        self.problem: ExportProblem | None = None
        head = self._raw.read(chunk_size)
        self.compressed = head[:2] == _GZIP_MAGIC
        self._head = head
        self._decoded = self._decode()
        self._peeked: bytes | None = None

    @property
    def name(self) -> str:
        return str(getattr(self._raw, "name", "the export"))

    def close(self) -> None:
        if self._own:
            self._raw.close()

    def __enter__(self) -> ChunkSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def peek(self) -> bytes:
        """The first decoded bytes (what the format is told by), without using them up."""
        if self._peeked is None:
            self._peeked = next(self._decoded, b"")
        return self._peeked

    def chunks(self) -> Iterator[bytes]:
        """The decoded chunks, once (a second call gives nothing)."""
        if self._peeked:
            first, self._peeked = self._peeked, b""
            self.offset += len(first)
            yield first
        for chunk in self._decoded:
            self.offset += len(chunk)
            yield chunk

    def _decode(self) -> Iterator[bytes]:
        raw = self._raw_chunks()
        return self._gunzip(raw) if self.compressed else raw

    def _raw_chunks(self) -> Iterator[bytes]:
        head, self._head = self._head, b""
        if head:
            yield head
        while True:
            try:
                block = self._raw.read(self.chunk_size)
            except OSError as exc:
                message = _("the file could not be read on: {detail}", detail=str(exc))
                self.problem = ExportProblem("truncated", self._where(), message)
                return
            if not block:
                return
            yield block

    def _gunzip(self, raw: Iterator[bytes]) -> Iterator[bytes]:
        """gzip members one after the other (``cat a.gz b.gz`` is one valid gzip file)."""
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        fed = False  # whether the current member has begun
        pending = b""
        for block in raw:
            data, pending = pending + block, b""
            while data:
                if not fed and len(data) < 2:
                    pending = data  # a member's first byte: wait for the second
                    break
                if not fed and data[:2] != _GZIP_MAGIC:
                    return  # trailing bytes that are not gzip: ignored, as gzip(1) does
                fed = True
                try:
                    out = inflater.decompress(data, self.chunk_size)
                except zlib.error as exc:
                    self.problem = self._broken(
                        _("the gzip data is damaged ({detail})", detail=str(exc))
                    )
                    return
                if out:
                    yield out
                if inflater.eof:
                    data = inflater.unused_data
                    inflater, fed = zlib.decompressobj(zlib.MAX_WBITS | 16), False
                else:
                    data = inflater.unconsumed_tail
        if fed and not inflater.eof:
            tail = inflater.flush()
            if tail:
                yield tail
            self.problem = self._broken(
                _(
                    "the gzip file is cut off: it ends before its compressed data does, so the "
                    "export is incomplete"
                )
            )

    def _where(self) -> str:
        return _("byte {offset}", offset=self.offset)

    def _broken(self, message: str) -> ExportProblem:
        return ExportProblem("truncated", self._where(), message)


def source_of(data: bytes) -> ChunkSource:
    """A source over bytes in memory (tests, small exports)."""
    return ChunkSource(io.BytesIO(data))
