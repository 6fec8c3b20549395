"""Customer registers checked in the background: one job per upload, its progress, its outputs.

Why a job and not a request: a register of thousands of rows takes minutes, longer than a
browser or a proxy waits for one HTTP answer, and the person who uploaded it wants to see it
move. So an upload starts a :class:`RegisterJob` in a thread of its own, which runs the one bulk
engine (:func:`peppolnet.bulk.check_many`, on its own event loop, so the page's loop stays free)
and writes every result as it comes to a CSV for Swedish Excel (``;`` and a BOM) and, when
openpyxl is installed, an XLSX - their added columns, reasons and chart in the language of the
page the register was uploaded from. Pages and the event stream read :meth:`RegisterJob.snapshot`;
async readers are woken through :meth:`RegisterJob.subscribe` instead of polling.

The limits (:class:`RegisterLimits`) are checked before any lookup: the file's size while it is
copied, its rows by reading it once, so an oversized register is refused at the upload with a
sentence saying what to do, not half-way through the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import importlib.util
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from peppolnet._logging import logger
from peppolnet.bulk import (
    Progress,
    Register,
    ResultWriter,
    Summary,
    check_many,
    default_per_host,
    read_register,
    render_chart,
)
from peppolnet.clock import SYSTEM_CLOCK, Clock
from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import Language, Message, _
from peppolnet.network import Network

__all__ = [
    "JobState",
    "JobsBusy",
    "RegisterJob",
    "RegisterJobs",
    "RegisterLimits",
    "Snapshot",
    "safe_name",
]

log = logger(__name__)

#: Register files the page accepts (what :func:`peppolnet.bulk.read_register` reads).
SUFFIXES = (".csv", ".txt", ".xlsx")
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")
_PROGRESS_EVERY = 0.1  # seconds between wake-ups of the readers while rows stream in


@dataclasses.dataclass(frozen=True)
class RegisterLimits:
    """How much one upload may ask of the server, and how many run at once."""

    max_bytes: int = 10 * 1024 * 1024
    """The largest register file accepted (bytes)."""
    max_rows: int = 50_000
    """The most rows one register may have."""
    max_running: int = 2
    """Registers checked at the same time; another upload waits for one to finish."""
    concurrency: int = 16
    """Lookups at once within one register."""
    keep: timedelta = timedelta(hours=2)
    """How long a finished job's outputs stay downloadable."""


class JobState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobsBusy(PeppolnetError):
    """As many registers as allowed are being checked right now: upload again shortly."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Where a job is: what the progress bar, the event stream and the JSON show."""

    job_id: str
    state: JobState
    done: int
    total: int
    counts: dict[str, int]
    error: Message | None = None

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else min(100, (100 * self.done) // self.total)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state.value,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "counts": dict(sorted(self.counts.items())),
            "error": str(self.error) if self.error else None,
        }


class RegisterJob:
    """One uploaded register being checked, or checked: progress, summary and output files."""

    def __init__(
        self,
        job_id: str,
        folder: Path,
        name: str,
        total: int,
        started: datetime,
        language: Language = "en",
    ) -> None:
        self.id = job_id
        self.folder = folder
        self.name = name
        """The uploaded file's name without its suffix (for the download's name)."""
        self.total = total
        self.started = started
        self.language: Language = language
        """The language of the downloads (column names, reasons) and the chart: the page's
        language at the upload, since the files are written while the check runs."""
        self.finished: datetime | None = None
        self.csv_path = folder / "checked.csv"
        self.xlsx_path: Path | None = None
        self.chart_path: Path | None = None
        self.summary: Summary | None = None
        self._state = JobState.RUNNING
        self._done = 0
        self._counts: dict[str, int] = {}
        self._error: Message | None = None
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._last_wake = 0.0
        self.stop = threading.Event()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                self.id, self._state, self._done, self.total, dict(self._counts), self._error
            )

    def subscribe(self) -> asyncio.Event:
        """An event set (on the caller's loop) whenever the job moves on; clear it after reading."""
        event = asyncio.Event()
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), event))
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        with self._lock:
            self._subscribers = [(lp, ev) for lp, ev in self._subscribers if ev is not event]

    def _progress(self, progress: Progress) -> None:
        with self._lock:
            self._done = progress.done
            self._counts = dict(progress.counts)
        now = time.monotonic()
        if now - self._last_wake >= _PROGRESS_EVERY:
            self._last_wake = now
            self._wake()

    def _finish(self, state: JobState, at: datetime, error: Message | None = None) -> None:
        with self._lock:
            self._state = state
            self._error = error
            self.finished = at
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, event in subscribers:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that reader's loop has closed: nobody is waiting there
                self.unsubscribe(event)


def _megabytes(size: int) -> str:
    """``10`` for 10 MiB, ``0.5`` for half of one: how a limit reads in a sentence."""
    return format(size / (1024 * 1024), "g")


def _has_openpyxl() -> bool:
    return importlib.util.find_spec("openpyxl") is not None


class RegisterJobs:
    """The jobs of one app: started by uploads, kept for ``limits.keep``, removed with their files.

    ``folder`` holds one sub-folder per job (a private temporary folder by default). Job ids are
    random and unguessable: a checked register is customer data, and its URL is its only key.
    """

    def __init__(
        self,
        network: Network,
        *,
        limits: RegisterLimits | None = None,
        folder: Path | None = None,
        clock: Clock = SYSTEM_CLOCK,
        dnssec: bool = False,
    ) -> None:
        self.network = network
        #: Whether the registers' lookups validate the SML's answers with DNSSEC (the app's
        #: ``WebSettings.dnssec``).
        self.dnssec = dnssec
        self.limits = limits or RegisterLimits()
        self.clock = clock
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="peppolnet-registers-"))
        self._jobs: dict[str, RegisterJob] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> RegisterJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def new_upload(self, filename: str) -> tuple[Path, str]:
        """A fresh job folder and the path an upload named ``filename`` is copied to: a folder
        of its own (no output can overwrite it) and the upload's own name, made safe, so what
        is said about the file names the file the user chose."""
        suffix = Path(filename).suffix.lower()
        if suffix not in SUFFIXES:
            raise InvalidInput(
                _(
                    "{name} is not a register the page can read: upload a .csv or .xlsx file",
                    name=filename or "?",
                )
            )
        job_id = secrets.token_urlsafe(18)
        uploaded = self.folder / job_id / "upload"
        uploaded.mkdir(parents=True)
        return uploaded / f"{safe_name(Path(filename).stem)}{suffix}", job_id

    def copy_upload(self, source: IO[bytes], target: Path) -> None:
        """Copy an uploaded file, refusing it as soon as it is larger than the limit."""
        limit = self.limits.max_bytes
        written = 0
        with target.open("wb") as out:
            while chunk := source.read(1 << 16):
                written += len(chunk)
                if written > limit:
                    raise InvalidInput(
                        _(
                            "the register is larger than {limit} MB: split it into smaller files",
                            limit=_megabytes(limit),
                        )
                    )
                out.write(chunk)
        if written == 0:
            raise InvalidInput(_("the uploaded register is empty"))

    def start(
        self,
        upload: Path,
        job_id: str,
        filename: str,
        default_country: str | None,
        language: Language = "en",
    ) -> RegisterJob:
        """Open and count the register (refusing one the page cannot use), then check it in a
        thread of its own, writing its outputs in ``language``. Raises :class:`InvalidInput` or
        :class:`JobsBusy`; blocking (file I/O), so an async caller runs it in a worker thread."""
        self._forget_old()
        folder = upload.parent.parent  # the job's, made by new_upload
        try:
            total = self._count(upload, default_country)
            with self._lock:
                running = sum(thread.is_alive() for thread in self._threads.values())
                if running >= self.limits.max_running:
                    raise JobsBusy(
                        _("other registers are being checked right now: try again in a minute"),
                        retryable=True,
                    )
                name = Path(filename).stem
                job = RegisterJob(job_id, folder, name, total, self.clock.now(), language)
                register = read_register(upload, default_country=default_country)
                thread = threading.Thread(
                    target=self._run, args=(job, register), name=f"register-{job_id[:6]}"
                )
                self._jobs[job_id] = job
                self._threads[job_id] = thread
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        thread.start()
        log.debug("register job %s started: %d rows", job_id[:6], total)
        return job

    def _count(self, upload: Path, default_country: str | None) -> int:
        register = read_register(upload, default_country=default_country)
        total = 0
        try:
            for _row in register:
                total += 1
                if total > self.limits.max_rows:
                    raise InvalidInput(
                        _(
                            "the register has more than {limit} rows: split it into smaller files",
                            limit=self.limits.max_rows,
                        )
                    )
        finally:
            register.close()
        if total == 0:
            raise InvalidInput(_("the register has a header but no rows"))
        return total

    def _run(self, job: RegisterJob, register: Register) -> None:
        """The job's thread: check every row, write each result, then the summary and chart."""
        summary = Summary()
        try:
            self._check(job, register, summary)
        except Exception as exc:  # a disk full, a defect of ours: the job says so, never hangs
            log.warning("register job %s failed: %s", job.id[:6], type(exc).__name__)
            job._finish(
                JobState.FAILED, self.clock.now(), _("the check stopped: {error}", error=exc)
            )
            return
        finally:
            register.close()
        job.summary = summary
        job.chart_path = self._chart(job, summary)
        job._finish(JobState.DONE, self.clock.now())
        log.debug("register job %s done", job.id[:6])

    def _lookup(self) -> Callable[[], Any] | None:
        """What the run looks up with: its own lookup (None), or with DNSSEC one made alike
        (the bulk engine makes its own only without it)."""
        if not self.dnssec:
            return None
        from peppolnet.lookup import AsyncLookup

        per_host = default_per_host(self.limits.concurrency)  # as the engine's own lookup
        return functools.partial(AsyncLookup, self.network, per_host=per_host, dnssec=True)

    def _check(self, job: RegisterJob, register: Register, summary: Summary) -> None:
        lang = job.language
        writers = [
            ResultWriter(job.csv_path, register.headers, "csv", delimiter=";", language=lang)
        ]
        if _has_openpyxl():
            job.xlsx_path = job.folder / "checked.xlsx"
            writers.append(ResultWriter(job.xlsx_path, register.headers, "xlsx", language=lang))
        try:
            results = check_many(
                register,
                self._lookup(),
                network=self.network,
                concurrency=self.limits.concurrency,
                total=job.total,
                progress=job._progress,
            )
            try:
                for result in results:
                    for writer in writers:
                        writer.write(result)
                    summary.add_result(result)
                    if job.stop.is_set():
                        raise InvalidInput(_("the server stopped before the check was done"))
            finally:
                results.close()
        finally:
            for writer in writers:
                writer.close()

    def _chart(self, job: RegisterJob, summary: Summary) -> Path | None:
        """The summary chart (PNG), or None without matplotlib (the page then shows the table)."""
        try:
            chart = job.folder / "chart.png"
            return render_chart(summary, chart, title=job.name, language=job.language)
        except InvalidInput:
            return None

    def _forget_old(self) -> None:
        cutoff = self.clock.now() - self.limits.keep
        with self._lock:
            old = [
                job
                for job in self._jobs.values()
                if job.finished is not None and job.finished < cutoff
            ]
            for job in old:
                del self._jobs[job.id]
                self._threads.pop(job.id, None)
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)

    def close(self, timeout: float = 30.0) -> None:
        """Stop running jobs (at their next row) and wait for them; remove a private folder."""
        with self._lock:
            jobs = list(self._jobs.values())
            threads = list(self._threads.values())
        for job in jobs:
            job.stop.set()
        _join(threads, timeout)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _join(
    threads: Iterable[threading.Thread], timeout: float, now: Callable[[], float] = time.monotonic
) -> None:
    end = now() + timeout
    for thread in threads:
        thread.join(max(0.0, end - now()))


def safe_name(name: str) -> str:
    """A file name from an uploaded one: letters, digits, ``.-_`` and spaces only."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" .")[:80]
    return cleaned or "register"
