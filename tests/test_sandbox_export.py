"""The sandbox Directory's export over real HTTPS, and the synthetic export of the benchmarks."""

from __future__ import annotations

import gzip
import io
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from peppolnet.analytics import export_statistics
from peppolnet.clock import ManualClock
from peppolnet.directory.export import ExportKind, read_export
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import load_config
from peppolnet.sandbox.synthetic_export import synthetic_cards, write_synthetic_export


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(datetime(2031, 5, 5, 9, tzinfo=UTC))


@pytest.fixture(scope="module")
def sandbox(clock: ManualClock) -> Iterator[Sandbox]:
    with Sandbox.start(clock=clock) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    sandbox.exports._hits.clear()
    trust = ssl.create_default_context(cafile=str(sandbox.tls_ca_path))
    with httpx.Client(verify=trust, follow_redirects=False) as client:
        yield client


def test_an_export_path_redirects_to_the_static_copy(sandbox: Sandbox, http: httpx.Client) -> None:
    answer = http.get(sandbox.directory_url + "/export/businesscards-csv")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(sandbox.exports.static_base or "?")
    assert location.endswith("/directory-export-business-cards.csv")
    plain = http.get(location, headers={"Accept-Encoding": "identity"})
    assert plain.headers.get("content-encoding") is None
    assert plain.headers["content-type"] == "text/csv"
    with http.stream("GET", location, headers={"Accept-Encoding": "gzip"}) as packed:
        assert packed.headers["content-encoding"] == "gzip"
        wire = b"".join(packed.iter_raw())
    assert gzip.decompress(wire) == plain.content
    assert plain.content.startswith(b'"Participant ID";"Names (per-row)"')


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/export/businesscards-pdf", 404),
        ("POST", "/export/businesscards", 405),
        ("GET", "/export-files/secrets.txt", 404),
    ],
)
def test_what_the_export_does_not_serve(
    sandbox: Sandbox, http: httpx.Client, method: str, path: str, status: int
) -> None:
    assert http.request(method, sandbox.directory_url + path).status_code == status


def test_three_requests_per_file_and_address_in_any_24_hours(
    sandbox: Sandbox, http: httpx.Client, clock: ManualClock
) -> None:
    url = sandbox.directory_url + "/export/participants-xml"
    assert [http.get(url).status_code for _ in range(3)] == [302, 302, 302]
    refused = http.get(url)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert http.get(sandbox.directory_url + "/export/participants-json").status_code == 302
    clock.advance(timedelta(hours=23))
    assert http.get(url).status_code == 429  # the window slides: not yet
    clock.advance(timedelta(hours=1, seconds=1))
    assert http.get(url).status_code == 302


def test_the_export_follows_the_network(sandbox: Sandbox) -> None:
    card_holders = [p for p in sandbox.participants.values() if p.business_card is not None]
    gone = card_holders[0]
    before = {
        r.key for r in read_export(io.BytesIO(sandbox.exports.render(ExportKind.PARTICIPANTS_XML)))
    }
    assert gone.id.uri in before
    sandbox.remove_participant(gone.id)
    try:
        after = {
            r.key
            for r in read_export(io.BytesIO(sandbox.exports.render(ExportKind.PARTICIPANTS_XML)))
        }
        assert after == before - {gone.id.uri}
    finally:
        sandbox.register_participant(gone)


def test_the_sandbox_labels_document_types_from_the_code_list(sandbox: Sandbox) -> None:
    cards = list(read_export(io.BytesIO(sandbox.exports.render(ExportKind.BUSINESS_CARDS_XML))))
    labelled = {d.display_name for c in cards for d in c.document_types}  # type: ignore[union-attr]
    assert "Peppol BIS Billing UBL Invoice V3" in labelled


def test_the_default_network_has_cards_to_export() -> None:
    config = load_config(None)
    assert sum(1 for p in config.participants if p.business_card is not None) >= 10


# --- the synthetic export ------------------------------------------------------------------


def test_the_same_seed_makes_the_same_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = write_synthetic_export(
        tmp_path / "a.json", 500, seed=3, kind=ExportKind.BUSINESS_CARDS_JSON
    )
    two = write_synthetic_export(
        tmp_path / "b.json", 500, seed=3, kind=ExportKind.BUSINESS_CARDS_JSON
    )
    other = write_synthetic_export(
        tmp_path / "c.json", 500, seed=4, kind=ExportKind.BUSINESS_CARDS_JSON
    )

    def body(path):  # type: ignore[no-untyped-def]
        data = path.read_bytes()
        return data[data.index(b'"bc"') :]  # after the creation time

    assert body(one) == body(two) != body(other)
    assert len(list(read_export(one))) == 500


def test_the_synthetic_export_looks_like_the_network() -> None:
    stats = export_statistics(synthetic_cards(5_000, seed=1))
    assert stats.participants == 5_000
    assert stats.organisations < stats.participants  # twins under equivalent schemes
    assert stats.by_family["billing-invoice"] > 0.8 * stats.participants
    assert all(stats.by_family[f] > 0 for f in ("pint", "ordering", "mlr-mls", "self-billing"))
    assert len(stats.by_country) >= 15
    assert min(stats.by_month) >= "2018-01"
    assert max(stats.by_month) <= "2026-06"
