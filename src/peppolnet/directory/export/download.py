"""Downloading the Directory export: one file a day, kept on disk, within the published limit.

What the Directory asks of its export's users, and what this module does about each:

* **A daily cycle.** The export is made once a day, at 02:00 UTC. A file downloaded since the
  last 02:00 UTC is today's: :meth:`ExportDownloader.download` answers from the disk without a
  request (``force=True`` asks anyway).
* **3 downloads per file per day.** Counted before each request, in a SQLite file beside the
  cache (:mod:`peppolnet.directory.export._limit`), over a sliding 24 hours as the Directory
  counts; a fourth attempt is refused here - with the time the next is allowed - or, when an
  older copy is on disk, answered with that copy (``fresh`` False). A 429 from the Directory
  (another program on the same address) is the same refusal.
* **A redirect to a static copy.** ``/export/...`` answers with a redirect; it is followed (at
  most three times) only to an ``https`` URL the network's destination policy allows, and the
  connection is checked again at the socket (:mod:`peppolnet._http`).

The file is streamed to disk as it comes - gzip-compressed if the server sent it so (it is
asked for with ``Accept-Encoding: gzip``), which :func:`read_export` reads as it is - under a
size limit and a deadline for the whole download, written to ``*.part`` and renamed only when
complete, so the cache never holds half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import urljoin, urlsplit

import httpx

from peppolnet import _http
from peppolnet._logging import logger
from peppolnet._tls import context
from peppolnet.clock import Clock, as_clock
from peppolnet.destinations import DestinationPolicy
from peppolnet.directory.export._limit import DownloadLog
from peppolnet.directory.export.kinds import ExportKind
from peppolnet.directory.export.reader import ExportReader, read_export
from peppolnet.errors import DirectoryError, ExportLimitReached, InvalidInput, PeppolnetError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.network import Network

__all__ = [
    "DAILY_LIMIT",
    "DEFAULT_MAX_BYTES",
    "ExportDownloader",
    "ExportFile",
    "cycle_start",
    "default_cache_dir",
]

#: Downloads of one file the Directory allows in any 24 hours.
DAILY_LIMIT: Final = 3
#: The largest export accepted, as sent (the real XML export is a few GB uncompressed).
DEFAULT_MAX_BYTES: Final = 32 << 30
#: The whole download's deadline, and the longest wait for any single read.
DEFAULT_TIMEOUT: Final = 3 * 3600.0
DEFAULT_READ_TIMEOUT: Final = 60.0
#: When the Directory makes its daily export (UTC).
CYCLE_TIME: Final = time(2, 0)
MAX_REDIRECTS: Final = 3
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_log = logger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/peppolnet/directory-export`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "peppolnet" / "directory-export"


def cycle_start(now: datetime) -> datetime:
    """The start of the export cycle ``now`` is in: the last 02:00 UTC at or before it."""
    moment = now.astimezone(UTC)
    start = datetime.combine(moment.date(), CYCLE_TIME, tzinfo=UTC)
    return start if start <= moment else start - timedelta(days=1)


@dataclasses.dataclass(frozen=True, slots=True)
class ExportFile:
    """An export file on disk: where it came from, when, and whether it is today's.

    ``url`` is what was asked, ``source`` where the file finally came from (after the
    redirect; without any query string, which may hold a signature). ``compressed`` when it is
    stored gzip-compressed, as it was sent. ``from_cache`` when no request was made for it;
    ``fresh`` when it was downloaded in the current daily cycle.
    """

    kind: ExportKind
    path: Path
    url: str
    source: str
    downloaded_at: datetime
    size: int
    compressed: bool
    from_cache: bool
    fresh: bool

    def read(self, *, encoding: str | None = None) -> ExportReader:
        """A reader over the file (:func:`~peppolnet.directory.export.read_export`)."""
        return read_export(self.path, encoding=encoding)

    def to_json(self) -> dict[str, Any]:
        """Language-neutral fields for ``--json`` output."""
        return {
            "kind": self.kind.value,
            "path": str(self.path),
            "url": self.url,
            "source": self.source,
            "downloaded_at": self.downloaded_at.isoformat(),
            "size": self.size,
            "compressed": self.compressed,
            "from_cache": self.from_cache,
            "fresh": self.fresh,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class _Got:
    url: str
    encoding: str | None


def _check_cache_dir(folder: Path) -> None:
    """Refuse a cache folder that a file stands in the way of, when the downloader is made:
    found at the first download it was a StoreError quoting the system's English "File
    exists" or "Not a directory"."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InvalidInput(
            _(
                "the export cache {folder} cannot be made: {file} is a file, not a folder; "
                "give cache_dir (or XDG_CACHE_HOME) a folder",
                folder=str(folder),
                file=str(existing),
            )
        )


class _PartFile:
    """The ``.part`` file a download is streamed to (emptied again after a redirect)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def reset(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    def finish(self, target: Path) -> int:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.path, target)
        return target.stat().st_size

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _plain(url: str) -> str:
    """``url`` without query or fragment (a presigned URL's query is a credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


class ExportDownloader:
    """Downloads the Directory export of a network, into a cache on disk.

    ``network`` (default: production) gives the Directory URL, the TLS trust and the destination
    policy; ``directory_url`` overrides its URL. ``cache_dir`` (default
    :func:`default_cache_dir`) holds the files and the download count. ``clock`` decides "today"
    and the 24 hours of the limit; ``timeout`` bounds a whole download, ``read_timeout`` any one
    wait for data; ``max_bytes`` the size as sent; ``daily_limit`` the downloads per file per
    24 hours. ``client`` is an ``httpx.Client`` of yours (peppolnet then still bounds time and
    size, but cannot check the addresses it connects to).
    """

    def __init__(
        self,
        network: Network | None = None,
        *,
        directory_url: str | None = None,
        cache_dir: str | Path | None = None,
        clock: Clock | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        daily_limit: int = DAILY_LIMIT,
        client: httpx.Client | None = None,
    ) -> None:
        if network is None:
            from peppolnet.network import PRODUCTION

            network = PRODUCTION
        url = directory_url or network.directory_url
        if not url:
            raise InvalidInput(_("the network {name} has no Peppol Directory", name=network.name))
        if not url.startswith(("https://", "http://")) or (
            network.require_https and not url.startswith("https://")
        ):
            raise InvalidInput(
                _("the Directory URL must start with https:// (got {url})", url=repr(url))
            )
        if daily_limit < 1 or max_bytes < 1 or not timeout > 0 or not read_timeout > 0:
            raise InvalidInput(
                _("daily_limit and max_bytes must be at least 1, the timeouts above zero")
            )
        self.base_url = url.rstrip("/")
        self.network = network
        self.clock = as_clock(clock)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        _check_cache_dir(self.cache_dir)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.daily_limit = daily_limit
        self._policy: DestinationPolicy = network.destinations
        self._log = DownloadLog(self.cache_dir / "downloads.sqlite", self.clock)
        self._client = client
        self._own = client is None
        self._read_timeout = read_timeout

    # --- the cache -------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        """Where this Directory's files are kept (one folder per Directory host)."""
        netloc = urlsplit(self.base_url).netloc.rsplit("@", 1)[-1]
        return self.cache_dir / "".join(c if c.isalnum() or c in ".-" else "_" for c in netloc)

    def _meta_path(self, kind: ExportKind) -> Path:
        return self.folder / f"{kind.filename}.json"

    def cached(self, kind: ExportKind = ExportKind.BUSINESS_CARDS_XML) -> ExportFile | None:
        """The copy on disk (None if there is none, or it is incomplete or unreadable)."""
        try:
            meta = json.loads(self._meta_path(kind).read_text(encoding="utf-8"))
            path = self.folder / str(meta["file"])
            when = datetime.fromisoformat(str(meta["downloaded_at"]))
            size = path.stat().st_size
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if size != meta.get("size"):
            return None  # changed or cut since it was stored
        return ExportFile(
            kind, path, str(meta.get("url", "")), str(meta.get("source", "")), when, size,
            bool(meta.get("compressed")), from_cache=True,
            fresh=when >= cycle_start(self.clock.now()),
        )  # fmt: skip

    def downloads_left(self, kind: ExportKind = ExportKind.BUSINESS_CARDS_XML) -> int:
        """How many downloads of ``kind`` the limit still allows in the next moment."""
        return self._log.left(self.base_url, kind.value, self.daily_limit)

    def next_download(self, kind: ExportKind = ExportKind.BUSINESS_CARDS_XML) -> datetime:
        """When a download of ``kind`` is allowed (now, or when the oldest one leaves the
        24 hours)."""
        times = self._log.times(self.base_url, kind.value)
        now = self.clock.now()
        if len(times) < self.daily_limit:
            return now
        return times[len(times) - self.daily_limit] + timedelta(hours=24)

    # --- downloading -------------------------------------------------------------------------

    def download(
        self, kind: ExportKind = ExportKind.BUSINESS_CARDS_XML, *, force: bool = False
    ) -> ExportFile:
        """Today's copy of ``kind``: from the cache when it has one, else downloaded.

        Raises :class:`~peppolnet.errors.ExportLimitReached` when the day's downloads are used
        up and no copy is on disk (or ``force`` asked for a new one),
        :class:`~peppolnet.errors.DirectoryError` when the Directory cannot deliver it, and
        :class:`~peppolnet.errors.DestinationRefused` for a redirect the policy refuses.
        """
        kind = kind if isinstance(kind, ExportKind) else ExportKind.parse(str(kind))
        cached = self.cached(kind)
        if cached is not None and cached.fresh and not force:
            _log.debug("export %s: today's copy is on disk (%s bytes)", kind.value, cached.size)
            return cached
        url = self.base_url + kind.path
        try:
            what = _("the export {url}", url=url)
            self._log.take(self.base_url, kind.value, self.daily_limit, what)
        except ExportLimitReached:
            if cached is not None and not force:
                _log.warning("export %s: the daily limit is used up; an older copy is used",
                             kind.value)  # fmt: skip
                return cached
            raise
        return self._fetch(kind, url)

    def _fetch(self, kind: ExportKind, url: str) -> ExportFile:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = _PartFile(self.folder / f"{kind.filename}.part")
        _log.debug("export %s: downloading %s", kind.value, url)
        try:
            with _http.scope(seconds=self.timeout, destinations=self._policy):
                got = _http.run(
                    self._steps(url, kind, part), functools.partial(_http.fetch, self._http())
                )
        except BaseException as exc:
            part.discard()
            if isinstance(exc, PeppolnetError):
                _log.warning("export %s: not downloaded: %s", kind.value, exc)
            raise
        try:
            compressed = got.encoding == "gzip"
            name = kind.filename + (".gz" if compressed else "")
            target = self.folder / name
            size = part.finish(target)
        except BaseException:
            part.discard()
            raise
        now = self.clock.now()
        for other in (self.folder / kind.filename, self.folder / f"{kind.filename}.gz"):
            if other != target:
                with contextlib.suppress(OSError):
                    other.unlink()
        meta = {"file": name, "url": url, "source": _plain(got.url), "size": size,
                "compressed": compressed, "downloaded_at": now.isoformat()}  # fmt: skip
        self._meta_path(kind).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _log.debug("export %s: %s bytes stored", kind.value, size)
        return ExportFile(kind, target, url, _plain(got.url), now, size, compressed,
                          from_cache=False, fresh=True)  # fmt: skip

    def _steps(self, url: str, kind: ExportKind, part: _PartFile) -> _http.Steps[_Got]:
        """The download, sans-I/O: follow the redirects the policy allows, stream the body."""
        headers = {"Accept-Encoding": "gzip", "Accept": "*/*"}
        for hop in range(MAX_REDIRECTS + 1):
            part.reset()
            request = _http.Fetch(url, self.max_bytes, headers=headers, sink=part.write,
                                  keep_encoding=True)  # fmt: skip
            try:
                answer = yield request
            except _http.HttpFault as fault:
                raise self._fault(url, fault) from None
            if answer.status in _REDIRECTS:
                url = self._redirect(url, answer, hop)
                continue
            return self._accept(url, kind, answer)
        raise DirectoryError(
            _("the export {url} redirects too often", url=self.base_url + kind.path)
        )

    def _redirect(self, url: str, answer: _http.Answer, hop: int) -> str:
        location = str(answer.headers.get("location", "")).strip()
        if not location:
            raise DirectoryError(_("{url} answered a redirect without a Location", url=_plain(url)))
        target = urljoin(url, location)
        scheme = urlsplit(target).scheme.lower()
        if scheme != "https" and (self.network.require_https or scheme != "http"):
            raise DirectoryError(
                _(
                    "{url} redirects the export to {target}, which is not https",
                    url=_plain(url),
                    target=_plain(target),
                ),
                retryable=False,
            )
        self._policy.check_url(target, _("the export's redirect"))
        _log.debug("export: redirect %s to %s", hop + 1, _plain(target))
        return target

    def _accept(self, url: str, kind: ExportKind, answer: _http.Answer) -> _Got:
        if answer.status == 429:
            after = answer.headers.get("retry-after", "")
            raise ExportLimitReached(
                _(
                    "the Peppol Directory refuses more downloads of {path} from this address "
                    "today (HTTP 429); try again tomorrow",
                    path=kind.path,
                ),
                retry_after=float(after) if after.isdigit() else None,
            )
        if answer.status != 200:
            raise DirectoryError(
                _(
                    "{url} answered HTTP {status} for the export {path}",
                    url=_plain(url),
                    status=answer.status,
                    path=kind.path,
                ),
                retryable=answer.status >= 500,
            )
        if answer.truncated:
            raise DirectoryError(
                _(
                    "the export {path} is larger than {size} bytes; not stored",
                    path=kind.path,
                    size=self.max_bytes,
                ),
                retryable=False,
            )
        coding = (answer.headers.get("content-encoding") or "").strip().lower() or None
        if coding not in (None, "identity", "gzip", "x-gzip"):
            raise DirectoryError(
                _("the export came encoded as {coding}, which was not asked for", coding=coding),
                retryable=False,
            )
        return _Got(url, "gzip" if coding in ("gzip", "x-gzip") else None)

    def _fault(self, url: str, fault: _http.HttpFault) -> DirectoryError:
        where = _plain(url)
        if fault.kind == "timeout":
            return DirectoryError(
                _(
                    "the export download from {url} did not finish within {seconds} s",
                    url=where,
                    seconds=format(self.timeout, "g"),
                )
            )
        return DirectoryError(
            _("the export download from {url} failed: {detail}", url=where, detail=fault.detail),
            retryable=fault.kind in ("connect", "broken"),
        )

    def _http(self) -> httpx.Client:
        if self._client is None:
            from peppolnet.smp.client import USER_AGENT

            self._client = _http.client(
                context(self.network.tls_verify),
                timeout=self._read_timeout,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    def close(self) -> None:
        if self._own and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ExportDownloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
