"""Customer registers: upload, progress, download (routes).

``GET /registers`` is the upload form; ``POST /registers`` copies the file (refusing one over
the size limit), opens and counts it (refusing one the page cannot read, or with too many
rows, with a sentence saying so) and starts a :class:`~peppolnet.web.register_jobs.RegisterJob`,
then goes on to ``GET /registers/{job}``: the progress while it runs, then the summary, the
chart and the downloads (``checked.csv`` with ``;`` and a BOM for a Swedish Excel, or
``checked.xlsx``).

Progress reaches the page two ways: a script (``static/registers.js``) listens to the
server-sent events of ``/registers/{job}/events``, falling back to polling
``/registers/{job}/progress`` where an event stream does not get through (a buffering proxy);
without JavaScript the page reloads itself every few seconds (a ``<noscript>`` refresh), so it
works in any browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import Message, _, country_code, render
from peppolnet.reachability import Verdict
from peppolnet.web.cases import route_path
from peppolnet.web.register_jobs import (
    JobState,
    RegisterJob,
    RegisterJobs,
    RegisterLimits,
    safe_name,
)
from peppolnet.web.state import WebState, web_state

__all__ = ["routes", "running"]

#: Seconds between reloads of a running job's page when the browser runs no script.
RELOAD_EVERY = 3
_KEEPALIVE = 15.0  # seconds between comments on an idle event stream (proxies close silent ones)


@contextlib.asynccontextmanager
async def running(state: WebState) -> AsyncIterator[RegisterJobs]:
    """The app's register jobs while it runs; running jobs stop (at their next row) after."""
    limits = state.extra.get("register_limits")
    jobs = RegisterJobs(
        state.network,
        limits=limits if isinstance(limits, RegisterLimits) else None,
        clock=state.settings.clock,
        dnssec=state.settings.dnssec,
    )
    state.extra["registers"] = jobs
    try:
        yield jobs
    finally:
        state.extra.pop("registers", None)
        await run_in_threadpool(jobs.close)


def _jobs(state: WebState) -> RegisterJobs:
    jobs = state.extra.get("registers")
    if not isinstance(jobs, RegisterJobs):
        raise RuntimeError("the support page's register jobs run only while the app is started")
    return jobs


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    state = web_state(request)
    limits = _jobs(state).limits
    base = {"limits": limits, "reload_every": RELOAD_EVERY}
    return state.templates.response(request, name, {**base, **context}, status_code=status)


async def upload_page(request: Request) -> Response:
    """``GET``: the upload form; ``POST``: start checking the uploaded register."""
    if request.method == "POST":
        return await _upload(request)
    return _page(request, "registers.html", error=None, country="")


async def _upload(request: Request) -> Response:
    state = web_state(request)
    jobs = _jobs(state)
    async with request.form(max_files=1) as form:
        upload = form.get("register")
        country_text = str(form.get("country") or "").strip()[:60]
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _refused(request, _("Choose a register file to upload."), country_text)
        try:
            country = _country(country_text) or state.settings.default_country
            target, job_id = jobs.new_upload(upload.filename)
            await run_in_threadpool(jobs.copy_upload, upload.file, target)
            job = await run_in_threadpool(
                jobs.start, target, job_id, upload.filename, country, request.state.lang
            )
        except InvalidInput as exc:
            return _refused(request, exc, country_text)
        except PeppolnetError as exc:  # busy: another register is being checked
            refused = _refused(request, exc, country_text, 503)
            refused.headers["Retry-After"] = "60"  # as the sentence says (RFC 9110, 10.2.3)
            return refused
    return RedirectResponse(route_path(request, "register_job", job_id=job.id), 303)


def _country(text: str) -> str | None:
    if not text:
        return None
    code = country_code(text)
    if code is None:
        raise InvalidInput(_("{country} is not a country we know", country=text))
    return code


def _refused(
    request: Request, error: Message | Exception, country: str, status: int = 400
) -> Response:
    text = render(error, request.state.lang)
    return _page(request, "registers.html", status, error=text, country=country)


def _job(request: Request) -> RegisterJob | None:
    return _jobs(web_state(request)).get(request.path_params["job_id"])


def _missing(request: Request) -> Response:
    message = render(
        _("There is no such register check (finished checks are kept for a while only)."),
        request.state.lang,
    )
    return web_state(request).templates.response(
        request, "refused.html", {"message": message}, status_code=404
    )


async def job_page(request: Request) -> Response:
    """The progress of a running check, or the summary, chart and downloads of a finished one."""
    job = _job(request)
    if job is None:
        return _missing(request)
    snapshot = job.snapshot()
    lang = request.state.lang
    return _page(
        request,
        "register_job.html",
        job=job,
        snap=snapshot,
        running=snapshot.state is JobState.RUNNING,
        counts=_counts(snapshot.counts, lang),
        summary=job.summary,
        error=render(snapshot.error, lang) if snapshot.error else None,
    )


def _counts(counts: dict[str, int], lang: str) -> list[tuple[str, str, int]]:
    """(outcome, its label in the page's language, count), largest first."""
    shown = []
    for outcome, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        try:
            label = Verdict(outcome).label(lang)
        except ValueError:  # "invalid-input": a row without a usable identifier
            label = render(_("no usable number"), lang)
        shown.append((outcome, label, count))
    return shown


async def job_progress(request: Request) -> Response:
    """The job's progress as JSON: what the page's script polls when events do not arrive."""
    job = _job(request)
    if job is None:
        return JSONResponse({"error": "no such register check"}, status_code=404)
    return JSONResponse(job.snapshot().to_json(), headers={"cache-control": "no-store"})


async def job_events(request: Request) -> Response:
    """Server-sent events: the job's progress as it moves, ending when the job ends."""
    job = _job(request)
    if job is None:
        return JSONResponse({"error": "no such register check"}, status_code=404)
    return StreamingResponse(
        _events(job),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _events(job: RegisterJob) -> AsyncIterator[str]:
    changed = job.subscribe()
    try:
        while True:
            changed.clear()
            snapshot = job.snapshot()
            yield f"event: progress\ndata: {json.dumps(snapshot.to_json())}\n\n"
            if snapshot.state is not JobState.RUNNING:
                return
            while True:
                try:
                    await asyncio.wait_for(changed.wait(), _KEEPALIVE)
                    break
                except TimeoutError:
                    yield ": still checking\n\n"
    finally:
        job.unsubscribe(changed)


async def download(request: Request) -> Response:
    """The checked register: ``csv`` (``;``, UTF-8 with a BOM) or ``xlsx``."""
    job = _job(request)
    if job is None:
        return _missing(request)
    fmt = request.path_params["fmt"]
    path = job.csv_path if fmt == "csv" else job.xlsx_path if fmt == "xlsx" else None
    if job.snapshot().state is not JobState.DONE or path is None or not path.is_file():
        return _missing(request)
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=f"{safe_name(job.name)}.checked.{fmt}")


async def chart(request: Request) -> Response:
    """The summary chart (PNG)."""
    job = _job(request)
    if job is None or job.chart_path is None or not job.chart_path.is_file():
        return _missing(request)
    return FileResponse(job.chart_path, media_type="image/png")


routes: list[BaseRoute] = [
    Route("/registers", upload_page, methods=["GET", "POST"], name="registers"),
    Route("/registers/{job_id}", job_page, name="register_job"),
    Route("/registers/{job_id}/progress", job_progress, name="register_progress"),
    Route("/registers/{job_id}/events", job_events, name="register_events"),
    Route("/registers/{job_id}/checked.{fmt}", download, name="register_download"),
    Route("/registers/{job_id}/chart.png", chart, name="register_chart"),
]
