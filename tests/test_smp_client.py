"""The SMP clients over real HTTPS sockets: status codes, limits, retries, redirects, trust."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.errors import (
    IdentifierMismatch,
    InvalidSmpDocument,
    RedirectError,
    SmpError,
    SmpNotFound,
    SmpUnavailable,
)
from peppolnet.identifiers import BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, ParticipantId
from peppolnet.network import Network
from peppolnet.sandbox import render
from peppolnet.sandbox.http import HttpServer, Request, Response
from peppolnet.sandbox.pki import IssuedCertificate, TestPki
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.smp.client import AsyncSmpClient, SmpClient, subject_matches_uid
from peppolnet.smp.model import ServiceMetadata
from peppolnet.smp.urls import service_metadata_url
from peppolnet.x500 import parse_name

PID = ParticipantId.parse("0007:5567321707")
OTHER = ParticipantId.parse("0007:5560000001")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def smp_cert(pki: TestPki) -> IssuedCertificate:
    return pki.issue_smp_certificate("PSE000101", "Test SMP AB", "SE")


@pytest.fixture(scope="module")
def network(pki: TestPki) -> Network:
    from peppolnet.xmldsig import SignaturePolicy

    return Network(
        "unit",
        "sml.unit.test",
        (pki.smp_ca,),
        (pki.ap_ca,),
        None,
        SignaturePolicy.strict(),
        tls_verify=str(pki.tls_ca_pem_path),
        destinations=LOOPBACK_ALLOWED,
    )


def _metadata(pki: TestPki, signer: IssuedCertificate, participant: ParticipantId) -> bytes:
    ap = pki.issue_ap_certificate("PSE000101", "Test AP AB", "SE")
    endpoint = render.EndpointData(
        url="https://ap.unit.test/as4",
        transport_profile="peppol-transport-as4-v2_0",
        certificate_der=ap.certificate.public_bytes(Encoding.DER),
    )
    root = render.service_metadata(
        "peppol-smp-1", participant, BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, [endpoint]
    )
    sign_enveloped(root, signer.private_key, signer.certificate)
    return render.serialise(root)


class _Server:
    """An HTTPS server whose handler the test sets; counts requests."""

    def __init__(self, pki: TestPki) -> None:
        cert = pki.issue_tls_certificate(("127.0.0.1", "localhost"))
        self.handler: Callable[[Request], Response] = lambda r: Response(404)
        self.hits: list[str] = []
        self._lock = threading.Lock()
        tls = _tls_files(cert)
        self.server = HttpServer(self._handle, tls=tls, name="unit-smp")

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.hits.append(request.path)
        return self.handler(request)

    @property
    def url(self) -> str:
        return self.server.base_url


def _tls_files(cert: IssuedCertificate) -> tuple[Path, Path]:
    import tempfile

    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    folder = Path(tempfile.mkdtemp(prefix="peppolnet-tls-"))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.certificate.public_bytes(Encoding.PEM))
    key_path.write_bytes(
        cert.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def server(pki: TestPki) -> Iterator[_Server]:
    srv = _Server(pki)
    srv.server.start()
    yield srv
    srv.server.stop()


def test_metadata_is_fetched_verified_and_parsed(
    server: _Server, network: Network, pki: TestPki, smp_cert: IssuedCertificate
) -> None:
    body = _metadata(pki, smp_cert, PID)
    server.handler = lambda r: Response(200, body, {"Content-Type": "application/xml"})
    with SmpClient(network) as client:
        answer = client.service_metadata(server.url, PID, BIS_BILLING_INVOICE)
    assert answer.checked.trusted
    assert isinstance(answer.metadata, ServiceMetadata)
    assert answer.metadata.participant == PID
    assert answer.checked.signature.signer is not None
    assert answer.checked.signature.signer.seat_id == "PSE000101"
    expected = service_metadata_url(server.url, PID, BIS_BILLING_INVOICE)
    assert [server.url + hit for hit in server.hits] == [expected]


def test_status_codes_map_to_answers_and_faults(server: _Server, network: Network) -> None:
    with SmpClient(network, retries=2, backoff=0.01) as client:
        server.handler = lambda r: Response(404)
        with pytest.raises(SmpNotFound):
            client.fetch(server.url + "/x")
        assert len(server.hits) == 1  # a 404 is an answer: no retry
        server.hits.clear()
        server.handler = lambda r: Response(503)
        with pytest.raises(SmpUnavailable, match="503") as unavailable:
            client.fetch(server.url + "/x")
        assert unavailable.value.retryable
        assert len(server.hits) == 3  # one try and two retries
        server.hits.clear()
        server.handler = lambda r: Response(403)
        with pytest.raises(SmpError, match="403") as forbidden:
            client.fetch(server.url + "/x")
        assert not isinstance(forbidden.value, SmpUnavailable)
        assert len(server.hits) == 1


def test_retry_recovers_from_a_transient_5xx(server: _Server, network: Network) -> None:
    answers = iter([Response(500), Response(200, b"ok")])
    server.handler = lambda r: next(answers)
    with SmpClient(network, retries=1, backoff=0.01) as client:
        assert client.fetch(server.url + "/x") == b"ok"


def test_size_limit_is_enforced(server: _Server, network: Network) -> None:
    server.handler = lambda r: Response(200, b"<a>" + b"x" * 5000 + b"</a>")
    with (
        SmpClient(network, max_bytes=1000) as client,
        pytest.raises(InvalidSmpDocument, match="at most 1000"),
    ):
        client.fetch(server.url + "/big")


def test_user_agent_names_peppolnet(server: _Server, network: Network) -> None:
    seen: dict[str, str] = {}

    def handler(request: Request) -> Response:
        seen.update(request.headers)
        return Response(200, b"ok")

    server.handler = handler
    with SmpClient(network) as client:
        client.fetch(server.url + "/ua")
    assert seen["user-agent"].startswith("peppolnet/")


def test_https_is_required_by_the_policy(network: Network) -> None:
    with SmpClient(network) as client, pytest.raises(SmpError, match="not https"):
        client.fetch("http://127.0.0.1:1/x")


def test_connection_refused_is_unavailable(network: Network) -> None:
    with SmpClient(network, retries=0) as client, pytest.raises(SmpUnavailable):
        client.fetch("https://127.0.0.1:1/x")


def test_identifier_echo_is_checked(
    server: _Server, network: Network, pki: TestPki, smp_cert: IssuedCertificate
) -> None:
    body = render.serialise(
        render.service_group("peppol-smp-1", OTHER, [(BIS_BILLING_INVOICE, server.url + "/m")])
    )
    server.handler = lambda r: Response(200, body)
    with SmpClient(network) as client, pytest.raises(IdentifierMismatch, match="5560000001"):
        client.service_group(server.url, PID)


def _redirect_body(
    pki: TestPki, signer: IssuedCertificate, target: str, target_cert: IssuedCertificate
) -> bytes:
    root = render.redirect(
        "peppol-smp-1",
        PID,
        BIS_BILLING_INVOICE,
        target,
        target_cert.certificate.subject.rfc4514_string(),
        target_cert.certificate.public_bytes(Encoding.DER),
    )
    sign_enveloped(root, signer.private_key, signer.certificate)
    return render.serialise(root)


def test_one_redirect_is_followed_and_its_signer_checked(
    server: _Server, network: Network, pki: TestPki, smp_cert: IssuedCertificate
) -> None:
    target_cert = pki.issue_smp_certificate("PNO000202", "Other SMP AS", "NO")
    target = server.url + "/other/metadata"
    redirect = _redirect_body(pki, smp_cert, target, target_cert)
    metadata = _metadata(pki, target_cert, PID)
    server.handler = lambda r: Response(200, metadata if r.path.startswith("/other") else redirect)
    with SmpClient(network) as client:
        answer = client.service_metadata(server.url, PID, BIS_BILLING_INVOICE)
    assert answer.redirect is not None
    assert answer.url == target
    assert answer.checked.trusted

    # the redirect names another signer than the one that signed the target
    impostor = pki.issue_smp_certificate("PDK000303", "Impostor ApS", "DK")
    wrong_target = _metadata(pki, impostor, PID)
    server.handler = lambda r: Response(
        200, wrong_target if r.path.startswith("/other") else redirect
    )
    with SmpClient(network) as client, pytest.raises(RedirectError, match="Impostor"):
        client.service_metadata(server.url, PID, BIS_BILLING_INVOICE)

    # a second redirect is refused
    server.handler = lambda r: Response(200, redirect)
    with SmpClient(network) as client, pytest.raises(RedirectError, match="second time"):
        client.service_metadata(server.url, PID, BIS_BILLING_INVOICE)


def test_subject_matches_uid_ignores_order_and_spacing() -> None:
    subject = "CN=PNO000179,OU=PEPPOL TEST SMP,O=Direktoratet for Forvaltning og IKT,C=NO"
    uid = "C=NO, O=Direktoratet for Forvaltning og IKT, OU=PEPPOL TEST SMP, CN=PNO000179"
    assert subject_matches_uid(subject, uid)
    assert not subject_matches_uid(subject, uid.replace("PNO000179", "PNO000180"))
    assert not subject_matches_uid(subject, None)
    assert subject_matches_uid("CN=A\\,B,C=SE", "C=SE,CN=A\\,B")
    # X.500 names, not strings: letter case, the other escape, a parsed subject
    assert subject_matches_uid(subject, uid.lower())
    assert subject_matches_uid("CN=A\\,B,C=SE", "c=se,cn=a\\2cb")
    assert subject_matches_uid(parse_name(subject), uid.upper())
    assert not subject_matches_uid(subject, "not a name")
    assert not subject_matches_uid("not a name", uid)


async def test_async_client_is_a_twin(
    server: _Server, network: Network, pki: TestPki, smp_cert: IssuedCertificate
) -> None:
    body = _metadata(pki, smp_cert, PID)
    server.handler = lambda r: Response(200, body)
    async with AsyncSmpClient(network, per_host=2) as client:
        answer = await client.service_metadata(server.url, PID, BIS_BILLING_INVOICE)
        assert answer.checked.trusted
        server.handler = lambda r: Response(404)
        with pytest.raises(SmpNotFound):
            await client.fetch(server.url + "/missing")


def test_certificate_subject_helper_is_rfc4514(smp_cert: IssuedCertificate) -> None:
    cn = smp_cert.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "PSE000101"
