"""Bounded decoding of HTTP bodies: compression bombs cost at most the limit (review finding)."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet._httpbody import BoundedBody, BrokenBody, UnsupportedEncoding
from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.errors import InvalidSmpDocument, SmpError, SmpUnavailable
from peppolnet.network import Network
from peppolnet.sandbox.http import HttpServer, Request, Response
from peppolnet.smp.client import SmpClient

XML = b"<a>" + b"x" * 5000 + b"</a>"


def gzip_of_zeros(megabytes: int) -> bytes:
    """gzip of that many MB of zeros, built without ever holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


BOMB = gzip_of_zeros(200)  # ~200 KB on the wire, 200 MB inside


def chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(data: bytes, encoding: str | None, limit: int = 10_000) -> BoundedBody:
    body = BoundedBody(limit, encoding)
    for chunk in chunks(data):
        if not body.add(chunk):
            break
    else:
        body.finish()
    return body


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        (None, XML),
        ("identity", XML),
        ("gzip", gzip.compress(XML)),
        ("x-gzip", gzip.compress(XML)),
        ("deflate", zlib.compress(XML)),
        ("GZip ", gzip.compress(XML)),
    ],
)
def test_what_is_advertised_is_decoded(encoding: str | None, wire: bytes) -> None:
    body = read(wire, encoding)
    assert not body.truncated
    assert body.value() == XML


def test_a_bomb_stops_at_the_limit_without_inflating() -> None:
    tracemalloc.start()
    try:
        body = read(BOMB, "gzip", limit=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert body.truncated
    assert body.size <= 1_000_001
    assert peak < 8_000_000  # not the 200 MB inside


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd", "compress", "gzip, br"])
def test_other_or_stacked_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="only one layer"):
        BoundedBody(1000, encoding)


def test_broken_and_cut_off_compression() -> None:
    with pytest.raises(BrokenBody, match="broken"):
        read(b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip")
    with pytest.raises(BrokenBody, match="cut off"):
        read(gzip.compress(XML)[:-20], "gzip")


@given(st.binary(max_size=2048), st.sampled_from([None, "gzip", "deflate"]))
def test_any_bytes_give_a_body_or_a_typed_error(data: bytes, encoding: str | None) -> None:
    try:
        body = read(data, encoding, limit=512)
    except BrokenBody:
        return
    assert body.size <= 513
    assert len(body.value()) <= 512


# --- the SMP client over a real local server ------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[HttpServer, list[Response]]]:
    answers: list[Response] = []

    def handler(request: Request) -> Response:
        return answers[0]

    srv = HttpServer(handler, name="bomb")
    srv.start()
    yield srv, answers
    srv.stop()


def plain_network() -> Network:
    return Network(
        "plain", "sml.unit.test", (), (), None, require_https=False, destinations=LOOPBACK_ALLOWED
    )


def test_the_smp_client_survives_compression_bombs(
    server: tuple[HttpServer, list[Response]],
) -> None:
    srv, answers = server
    url = srv.base_url + "/smp"
    with SmpClient(plain_network(), retries=0) as client:
        answers[:] = [Response(200, gzip.compress(XML), {"Content-Encoding": "gzip"})]
        assert client.fetch(url) == XML  # a polite gzip answer is read
        answers[:] = [Response(200, BOMB, {"Content-Encoding": "gzip"})]
        tracemalloc.start()
        try:
            with pytest.raises(InvalidSmpDocument, match="exceeds"):
                client.fetch(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20_000_000
        double = gzip.compress(gzip_of_zeros(50))
        answers[:] = [Response(200, double, {"Content-Encoding": "gzip, gzip"})]
        with pytest.raises(SmpError, match="only one layer") as refused:
            client.fetch(url)
        assert not isinstance(refused.value, SmpUnavailable)


def test_a_download_keeps_the_coding_and_hands_pieces_to_a_sink() -> None:
    """The Directory export: gzip stored as sent, streamed to a file, the limit on the bytes
    as sent (not on what they would unpack to)."""
    wire = gzip.compress(XML)
    pieces: list[bytes] = []
    body = BoundedBody(len(wire), "gzip", keep=True, sink=pieces.append)
    for chunk in chunks(wire, 100):
        assert body.add(chunk)
    body.finish()
    assert b"".join(pieces) == wire
    assert body.value() == b""
    small = BoundedBody(len(wire) - 1, "gzip", keep=True, sink=pieces.append)
    assert not all(small.add(chunk) for chunk in chunks(wire, 100))
    assert small.truncated


def test_keeping_the_coding_still_refuses_one_that_was_not_asked_for() -> None:
    with pytest.raises(UnsupportedEncoding):
        BoundedBody(10_000, "br", keep=True)
