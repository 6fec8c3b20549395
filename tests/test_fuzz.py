"""Mutation fuzzing of everything that reads bytes from the network: only peppolnet errors escape.

Each target starts from real answers of a running sandbox (signed SMP documents in the three
dialects, a redirect, business cards, Directory answers in JSON and XML, DNS replies, and
certificates), mutates them (byte flips, insertions, deletions, splices of two documents) and
feeds them to the parser, the signature and certificate checks, or the DNS reply reader. A crash
is any exception that is not a :class:`~peppolnet.errors.PeppolnetError`.

In CI the run is bounded and seeded (``derandomize``: the same examples every time, so a red
build is reproducible). ``nox -s fuzz`` sets ``PEPPOLNET_FUZZ=long`` for a long random run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peppolnet import dnswire
from peppolnet.businesscard import business_card_url, parse_business_card
from peppolnet.directory.parse import parse_search_response
from peppolnet.errors import PeppolnetError
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.network import Network
from peppolnet.pki import CertificateFacts, load_certificate, validate_chain
from peppolnet.sandbox import Sandbox
from peppolnet.sml import naptr_name
from peppolnet.smp.parse import parse_document
from peppolnet.smp.trust import check_document
from peppolnet.smp.urls import service_group_url, service_metadata_url

LONG = os.environ.get("PEPPOLNET_FUZZ") == "long"
FUZZ = settings(
    max_examples=20_000 if LONG else 120,
    derandomize=not LONG,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Corpus:
    network: Network
    smp: tuple[bytes, ...]
    cards: tuple[bytes, ...]
    directory_json: tuple[bytes, ...]
    directory_xml: tuple[bytes, ...]
    dns: tuple[tuple[bytes, int, str], ...]
    certificates: tuple[bytes, ...]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """Real answers, collected once from a sandbox of this module's own."""
    with Sandbox.start(key_dir=Path(tmp_path_factory.mktemp("keys"))) as sb:
        smp: list[bytes] = []
        cards: list[bytes] = []
        with httpx.Client(
            verify=ssl.create_default_context(cafile=sb.tls_ca_path), timeout=10
        ) as http:
            plain = [p for p in sb.config.participants if p.in_sml and not p.quirks]
            seen_smps: set[str] = set()
            for p in plain + [q for q in sb.config.participants if "redirect" in q.quirks][:1]:
                pid = ParticipantId.parse(p.id.uri)
                service = next(s for s in sb.services.values() if s.publication(pid) is not None)
                base = service.base_url
                if base in seen_smps and "redirect" not in p.quirks:
                    continue
                seen_smps.add(base)
                smp.append(http.get(service_group_url(base, pid)).content)
                smp.append(http.get(service_metadata_url(base, pid, BIS_BILLING_INVOICE)).content)
                card = http.get(business_card_url(base, pid))
                if card.status_code == 200:
                    cards.append(card.content)
            search = f"{sb.directory_url}/search/1.0/"
            directory_json = (http.get(search + "json", params={"q": "ab"}).content,)
            directory_xml = (http.get(search + "xml", params={"q": "ab"}).content,)
        dns = tuple(_dns_replies(sb))
        certificates = (
            sb.pki.smp_ca.public_bytes(_der()),
            *(_embedded_certificates(smp)),
        )
        yield Corpus(
            sb.network, tuple(smp), tuple(cards), directory_json, directory_xml, dns, certificates
        )


def _der() -> object:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _embedded_certificates(documents: list[bytes]) -> list[bytes]:
    import base64
    import re

    found = []
    for doc in documents:
        for text in re.findall(rb"<(?:\w+:)?X509Certificate>([^<]+)<", doc):
            found.append(base64.b64decode(b"".join(text.split())))
    return found[:4]


def _dns_replies(sb: Sandbox) -> Iterator[tuple[bytes, int, str]]:
    """(reply bytes, query id, name) for a registered and an unknown participant."""
    registered = next(p for p in sb.config.participants if p.in_sml and not p.quirks)
    for number, pid in enumerate((registered.id.uri, "iso6523-actorid-upis::0007:0000000000")):
        name = naptr_name(ParticipantId.parse(pid), sb.config.zone)
        query_id = 0x1200 + number
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(dnswire.build_query(name, dnswire.NAPTR, query_id), sb.dns.address)
            yield sock.recv(65535), query_id, name


def mutated(seeds: Callable[[Corpus], tuple[bytes, ...]]) -> st.SearchStrategy[bytes]:
    """A seed from the corpus, with up to four flips, insertions, deletions or splices."""

    @st.composite
    def strategy(draw: st.DrawFn, corpus: Corpus) -> bytes:
        pool = seeds(corpus)
        data = bytearray(draw(st.sampled_from(pool)))
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["flip", "insert", "delete", "splice", "byte"]))
            at = draw(st.integers(0, max(0, len(data) - 1)))
            if kind == "flip" and data:
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif kind == "byte" and data:
                data[at] = draw(st.sampled_from([0, 0x22, 0x26, 0x3C, 0x3E, 0x7F, 0xFF]))
            elif kind == "insert":
                data[at:at] = draw(st.sampled_from([b"<", b"&", b"xmlns:a='b' ", b"\x00", b"]]>"]))
            elif kind == "delete":
                del data[at : at + draw(st.integers(1, 64))]
            elif kind == "splice":
                other = draw(st.sampled_from(pool))
                cut = draw(st.integers(0, len(other)))
                data[at:] = other[cut:]
        return bytes(data)

    return strategy  # type: ignore[return-value]


@contextlib.contextmanager
def only_peppolnet_errors() -> Iterator[None]:
    with contextlib.suppress(PeppolnetError):  # the only errors allowed out
        yield


AT = datetime(2030, 1, 1, tzinfo=UTC)  # any instant: expiry is an answer, not a crash


@FUZZ
@given(data=st.data())
def test_smp_documents(corpus: Corpus, data: st.DataObject) -> None:
    document = data.draw(mutated(lambda c: c.smp)(corpus))  # type: ignore[operator]
    with only_peppolnet_errors():
        parse_document(document)
    with only_peppolnet_errors():
        check_document(document, corpus.network, at=AT).signature.to_json()


@FUZZ
@given(data=st.data())
def test_business_cards(corpus: Corpus, data: st.DataObject) -> None:
    with only_peppolnet_errors():
        parse_business_card(data.draw(mutated(lambda c: c.cards)(corpus)))  # type: ignore[operator]


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["json", "xml"]))
def test_directory_answers(corpus: Corpus, data: st.DataObject, fmt: str) -> None:
    seeds = (lambda c: c.directory_json) if fmt == "json" else (lambda c: c.directory_xml)
    with only_peppolnet_errors():
        parse_search_response(data.draw(mutated(seeds)(corpus)), fmt)  # type: ignore[operator]


@FUZZ
@given(data=st.data())
def test_dns_replies(corpus: Corpus, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(corpus.dns) - 1))
    _, query_id, name = corpus.dns[index]
    seeds = tuple(reply for reply, _, _ in corpus.dns)
    reply = data.draw(mutated(lambda c: seeds)(corpus))  # type: ignore[operator]
    for over_tcp in (False, True):
        with only_peppolnet_errors():
            dnswire.parse_response(reply, query_id, name, dnswire.NAPTR, over_tcp=over_tcp)


@FUZZ
@given(data=st.data())
def test_certificates(corpus: Corpus, data: st.DataObject) -> None:
    der = data.draw(mutated(lambda c: c.certificates)(corpus))  # type: ignore[operator]
    cert = None
    with only_peppolnet_errors():
        cert = load_certificate(der)
    if cert is not None:
        with only_peppolnet_errors():
            CertificateFacts.from_certificate(cert)
        with only_peppolnet_errors():
            validate_chain(cert, corpus.network.smp_ca, at=AT)


def test_the_corpus_is_real(corpus: Corpus) -> None:
    """The fuzzers start from working answers, or they would only test the first check."""
    assert len(corpus.smp) >= 6
    assert any(check_document(d, corpus.network).trusted for d in corpus.smp)
    assert corpus.cards
    assert parse_search_response(corpus.directory_json[0], "json").matches
    assert parse_search_response(corpus.directory_xml[0], "xml").matches
    first, query_id, name = corpus.dns[0]
    assert dnswire.parse_response(first, query_id, name, dnswire.NAPTR).naptr
    assert len(corpus.certificates) >= 2
