"""Downloading the Directory export from the sandbox over real HTTPS: the redirect and the
destination policy, gzip as sent, the daily cache, the limit of 3 downloads per file per day
(counted here, and refused by the Directory), and limits on size and time."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from peppolnet.clock import ManualClock
from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.directory.export import (
    ExportDownloader,
    ExportKind,
    cycle_start,
    read_export,
)
from peppolnet.errors import (
    DestinationRefused,
    DirectoryError,
    ExportLimitReached,
    InvalidInput,
)
from peppolnet.network import Network
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.http import Faults, HttpServer, Request, Response

NOON: datetime = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(NOON)


@pytest.fixture(scope="module")
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    """A sandbox of its own: its export counts downloads by the clock these tests move."""
    with Sandbox.start(clock=clock) as running:
        yield running


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def downloader(
    sandbox: Sandbox, cache: Path, clock: ManualClock, **options: object
) -> ExportDownloader:
    return ExportDownloader(sandbox.network, cache_dir=cache, clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh_limits(sandbox: Sandbox) -> Iterator[None]:
    """Each test starts with the sandbox Directory's own counts empty (they are per address)."""
    sandbox.exports._hits.clear()
    sandbox.exports.tamper = None
    yield
    sandbox.exports.tamper = None


@pytest.mark.parametrize("kind", list(ExportKind))
def test_every_file_comes_through_the_redirect_gzip_compressed(
    kind: ExportKind, sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    with downloader(sandbox, cache, clock) as d:
        file = d.download(kind)
    assert file.source.startswith(sandbox.exports.static_base or "?")  # followed the redirect
    assert file.compressed
    assert file.path.name.endswith(".gz")
    assert file.path.read_bytes()[:2] == b"\x1f\x8b"  # stored as sent
    with file.read() as reader:
        records = list(reader)
    assert reader.problems == []
    expected = {e.participant.uri for e in sandbox.directory.entries() if e.entities}
    assert {r.key for r in records} == expected  # the uri of a ParticipantId is as compared
    assert (file.from_cache, file.fresh, file.kind) == (False, True, kind)


def test_todays_copy_is_used_without_a_request(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    with downloader(sandbox, cache, clock) as d:
        first = d.download()
        served = sandbox.exports.served
        again = d.download()
        assert sandbox.exports.served == served  # nothing was asked for
        assert (again.from_cache, again.fresh, again.path) == (True, True, first.path)
        assert d.downloads_left() == 2


def test_a_new_cycle_starts_at_two_in_the_morning(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    assert cycle_start(datetime(2030, 3, 1, 1, 59, tzinfo=UTC)) == datetime(
        2030, 2, 28, 2, 0, tzinfo=UTC
    )
    assert cycle_start(datetime(2030, 3, 1, 2, 0, tzinfo=UTC)) == datetime(
        2030, 3, 1, 2, 0, tzinfo=UTC
    )
    with downloader(sandbox, cache, clock) as d:
        d.download()
        clock.advance(timedelta(hours=14, minutes=1))  # past 02:00 the next day
        cached = d.cached()
        assert cached is not None
        assert not cached.fresh
        newer = d.download()
    assert (newer.from_cache, newer.fresh) == (False, True)


def test_three_downloads_a_day_counted_before_asking_and_kept_on_disk(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    kind = ExportKind.PARTICIPANTS_JSON
    with downloader(sandbox, cache, clock) as d:
        for _ in range(3):
            d.download(kind, force=True)
        asked = sandbox.exports.served
        with pytest.raises(ExportLimitReached, match="downloaded 3 times") as refused:
            d.download(kind, force=True)
        assert sandbox.exports.served == asked  # refused here: nothing was sent
        assert refused.value.retryable
        assert 0 < (refused.value.retry_after or 0) <= 24 * 3600
        # without force, the (older) copy on disk is the answer
        assert d.download(kind).from_cache
    # the count is on disk: a new downloader (a new process) knows it
    with downloader(sandbox, cache, clock) as again:
        assert again.downloads_left(kind) == 0
        assert again.next_download(kind) > clock.now()
        clock.advance(timedelta(hours=24, seconds=1))
        assert again.downloads_left(kind) == 3


def test_a_cache_folder_that_is_a_file_is_refused_when_the_downloader_is_made(
    sandbox: Sandbox, tmp_path: Path, clock: ManualClock
) -> None:
    taken = tmp_path / "cache.txt"
    taken.write_text("mine\n")
    for folder in (taken, taken / "exports"):
        with pytest.raises(InvalidInput, match=f"{folder} cannot be made: {taken} is a file"):
            downloader(sandbox, folder, clock)
    assert taken.read_text() == "mine\n"


def test_the_directory_refuses_a_fourth_download_too(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    """Another program on the same address may have used them: the Directory's 429 is the
    same refusal, with its own sentence."""
    kind = ExportKind.PARTICIPANTS_CSV
    with downloader(sandbox, cache, clock, daily_limit=10) as d:
        for _ in range(3):
            d.download(kind, force=True)
        with pytest.raises(ExportLimitReached, match="HTTP 429"):
            d.download(kind, force=True)
    assert sandbox.exports.refused >= 1


def test_a_damaged_file_is_stored_and_its_damage_reported(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    sandbox.exports.tamper = lambda kind, body: body[: len(body) * 2 // 3]  # a cut gzip
    with downloader(sandbox, cache, clock) as d:
        file = d.download(ExportKind.BUSINESS_CARDS_JSON)
    with read_export(file.path) as reader:
        records = list(reader)
    assert any(p.kind == "truncated" for p in reader.problems)
    assert len(records) < len(sandbox.directory.entries())


def test_an_export_larger_than_allowed_is_not_stored(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    with downloader(sandbox, cache, clock, max_bytes=500) as d:
        with pytest.raises(DirectoryError, match="larger than 500 bytes") as failed:
            d.download()
        assert not failed.value.retryable
        assert d.cached() is None
    assert list((cache).rglob("*.part")) == []  # no half file left behind


def test_a_download_that_trickles_ends_at_the_deadline(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    assert sandbox.export_server is not None
    sandbox.export_server.faults = Faults(trickle_body_share=1.0, trickle_interval=0.5)
    try:
        with (
            downloader(sandbox, cache, clock, timeout=1.5, read_timeout=10.0) as d,
            pytest.raises(DirectoryError, match=r"did not finish within 1\.5 s") as failed,
        ):
            d.download()
        assert failed.value.retryable
    finally:
        sandbox.export_server.faults = Faults()


# --- where a redirect may lead --------------------------------------------------------------


def _redirecting(target: str) -> HttpServer:
    def handle(request: Request) -> Response:
        return Response(302, b"", {"Location": target})

    return HttpServer(handle, name="redirecting").start()


def _plain_network(url: str) -> Network:
    return Network("plain", "zone.test", (), (), url, require_https=False,
                   destinations=LOOPBACK_ALLOWED)  # fmt: skip


def test_a_redirect_to_an_address_the_policy_refuses_is_not_followed(
    cache: Path, clock: ManualClock
) -> None:
    server = _redirecting("http://169.254.169.254/latest/meta-data/")
    try:
        network = _plain_network(server.base_url)
        with (
            ExportDownloader(network, cache_dir=cache, clock=clock) as d,
            pytest.raises(DestinationRefused, match=r"169\.254\.169\.254"),
        ):
            d.download()
    finally:
        server.stop()


def test_a_redirect_away_from_https_is_refused_where_https_is_required(
    sandbox: Sandbox, cache: Path, clock: ManualClock
) -> None:
    original = sandbox.exports.static_base
    sandbox.exports.static_base = "http://127.0.0.1:9"
    try:
        with (
            downloader(sandbox, cache, clock) as d,
            pytest.raises(DirectoryError, match="which is not https"),
        ):
            d.download(ExportKind.PARTICIPANTS_XML)
    finally:
        sandbox.exports.static_base = original


def test_a_directory_without_an_export_says_so(cache: Path, clock: ManualClock) -> None:
    server = HttpServer(lambda request: Response(404, b"no export here\n")).start()
    try:
        network = _plain_network(server.base_url)
        with (
            ExportDownloader(network, cache_dir=cache, clock=clock) as d,
            pytest.raises(DirectoryError, match="answered HTTP 404") as failed,
        ):
            d.download()
        assert not failed.value.retryable
    finally:
        server.stop()


def test_a_plain_export_is_stored_plain(cache: Path, clock: ManualClock) -> None:
    body = (
        b'{"version":1,"creationdt":"2030-03-01T02:00:00Z","count":1,'
        b'"participants":["iso6523-actorid-upis::0007:5567321707"]}'
    )

    def handle(request: Request) -> Response:
        return Response(200, body, {"Content-Type": "application/json"})

    server = HttpServer(handle).start()
    try:
        with ExportDownloader(_plain_network(server.base_url), cache_dir=cache, clock=clock) as d:
            file = d.download(ExportKind.PARTICIPANTS_JSON)
    finally:
        server.stop()
    assert not file.compressed
    assert file.path.read_bytes() == body
    (record,) = list(read_export(file.path))
    assert record.participant_value == "0007:5567321707"


def test_a_gzip_export_file_reads_as_it_is(tmp_path: Path) -> None:
    """A snapshot someone gzipped by hand reads like the downloaded one."""
    path = tmp_path / "snapshot.xml.gz"
    body = (
        b'<?xml version="1.0"?><root xmlns="http://www.peppol.eu/schema/pd/participant-generic/'
        b'201910/" version="1" count="1"><participantID scheme="iso6523-actorid-upis" '
        b'value="0088:7300010000001"/></root>'
    )
    path.write_bytes(gzip.compress(body))
    with read_export(path) as reader:
        assert [r.participant_value for r in reader] == ["0088:7300010000001"]
    assert reader.problems == []


def test_a_failed_download_is_logged_as_a_fault(
    sandbox: Sandbox, cache: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="peppolnet")
    with downloader(sandbox, cache, clock, max_bytes=100) as d, pytest.raises(DirectoryError):
        d.download(ExportKind.PARTICIPANTS_XML)
    records = [r for r in caplog.records if r.name == "peppolnet.directory.export.download"]
    assert [r.levelname for r in records][-1] == "WARNING"
    assert "not downloaded" in records[-1].getMessage()
    assert any(r.levelname == "DEBUG" and "redirect" in r.getMessage() for r in records)
    assert not any(r.levelname == "INFO" for r in caplog.records)
