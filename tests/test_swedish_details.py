"""No English inside Swedish sentences: the details that came from other libraries or the
operating system - email-validator's explanation, an unknown operator, a socket or TLS failure,
an XML signature's shape, a CRL's reason code, a code list's state, a channel that cannot
deliver - are said from the catalog,
with the raw text kept only as a technical detail in parentheses where it helps.

Rendered in Swedish and checked for Swedish words (and for the English they replaced)."""

from __future__ import annotations

import socket

import httpx
import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from peppolnet._neterrors import describe
from peppolnet.codelists import SchemeState
from peppolnet.errors import ChannelError, InvalidSignature, NetworkFault
from peppolnet.i18n import render
from peppolnet.identifiers import ParticipantId
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.recipients import AddRecipientRequest, SmtpChannel
from peppolnet.recipients.request import check_email
from peppolnet.revocation import REASONS
from peppolnet.sandbox import Sandbox
from peppolnet.smp.client import SmpClient
from peppolnet.xmldsig import SignaturePolicy, verify_bytes


def email_sv(address: str) -> str:
    with pytest.raises(ValueError, match="is not a valid e-mail address") as info:
        check_email(address)
    return render(info.value.args[0], "sv")


@pytest.mark.parametrize(
    ("address", "swedish"),
    [
        ("faktura@", "det står ingenting efter @-tecknet"),
        ("faktura", "den saknar @-tecken"),
        ("@bygg.se", "det står ingenting före @-tecknet"),
        ("a..b@bygg.se", "den har två punkter i rad"),
        ("faktura@bygg", "domänen efter @-tecknet saknar punkt"),
        ("faktura@bygg.invalid", "domänen efter @-tecknet är reserverad"),
        (".faktura@bygg.se", "den får inte börja med en punkt"),
        ("faktura@-bygg.se", "den får inte ha ett bindestreck direkt efter @-tecknet"),
        ("fak tura@bygg.se", "den har tecken som inte är tillåtna före @-tecknet"),
        ("faktura＠bygg.se", "ett tecken som liknar @"),
    ],
)
def test_email_validators_explanations_in_swedish(address: str, swedish: str) -> None:
    said = email_sv(address)
    assert said.startswith(f"{address!r} är ingen giltig e-postadress: ")
    assert swedish in said
    assert "@-sign" not in said


@given(st.text(alphabet="abc.-@ ", max_size=24))
def test_any_refused_ascii_address_is_explained_in_swedish(address: str) -> None:
    try:
        check_email(address)
    except ValueError as exc:
        said = render(exc.args[0], "sv")
        for english in ("@-sign", "email address", "There ", "must "):
            assert english not in said, said


def test_operator_problems_in_swedish() -> None:
    registry = OperatorRegistry([Operator("PSE000102", "Kvittra AB", "SE")])
    close = registry.find("Kvitra")
    assert str(close.message) == (
        "no operator named 'Kvitra' is known; did you mean: Kvittra AB (PSE000102)?"
    )
    assert render(close.message, "sv") == (
        "ingen operatör med namnet 'Kvitra' är känd; menade du: Kvittra AB (PSE000102)?"
    )
    assert render(registry.find("PSE999999").message, "sv") == (
        "ingen operatör med Seat ID PSE999999 är känd"
    )
    assert "inget giltigt Seat ID" in render(registry.find("PSE12").message, "sv")


def test_every_crl_reason_code_has_words() -> None:
    codes = {flag.name for flag in x509.ReasonFlags} - {"unspecified"}
    assert set(REASONS) == codes
    assert render(REASONS["key_compromise"], "sv") == "nyckeln har röjts"
    assert all(render(words, "sv") != str(words) for words in REASONS.values())


def test_code_list_states_in_words() -> None:
    assert [render(state.label, "sv") for state in SchemeState] == [
        "aktiv",
        "utfasad",
        "borttagen",
    ]
    assert SchemeState.DEPRECATED.value == "deprecated"  # the machine value is unchanged


def test_xml_signature_shape_in_swedish() -> None:
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(b"<a/>", policy=SignaturePolicy.strict())
    said = render(info.value, "sv")
    assert said == "rotelementet 'a' är inte ett som bär en SMP-signatur"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_a_refused_connection_in_swedish_with_the_raw_detail_after(sandbox: Sandbox) -> None:
    pid = ParticipantId.parse("0007:5567321707")
    with SmpClient(sandbox.network, timeout=5.0) as client, pytest.raises(NetworkFault) as info:
        client.service_group(f"https://127.0.0.1:{_closed_port()}", pid)
    said = render(info.value, "sv")
    assert "anslutningen nekades (" in said
    assert said.startswith("det går inte att ansluta till SMP:n")


def test_an_untrusted_tls_certificate_in_swedish(sandbox: Sandbox) -> None:
    """The sandbox's SMP over TLS, checked against the system's CAs (which do not hold the
    sandbox's own root): a real OpenSSL verification failure."""
    url = sandbox.directory_server.base_url  # served with the same sandbox certificate
    with (
        httpx.Client(verify=True, timeout=5.0) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    said = render(describe(info.value), "sv")
    assert said.startswith(
        "serverns TLS-certifikat är inte utfärdat av en CA som klienten litar på ("
    )
    assert "CERTIFICATE_VERIFY_FAILED" in said  # the raw detail, for whoever debugs it


def test_an_unknown_cause_keeps_its_own_text() -> None:
    assert describe(httpx.ReadError("something odd")) == "something odd"
    assert describe(httpx.ReadError("")) == "ReadError"


def test_a_mail_server_that_cannot_be_reached_in_swedish() -> None:
    channel = SmtpChannel(
        "127.0.0.1",
        _closed_port(),
        to="onboarding@kvittra.example",
        sender="desk@byra.example",
        security="none",
        timeout=5.0,
    )
    request = AddRecipientRequest.create(
        company_name="Åkesson Bygg AB",
        organisation_number="556732-1707",
        operator="PSE000102",
        email="faktura@akesson.example",
    )
    with pytest.raises(ChannelError) as info:
        channel.send(request)
    said = render(info.value, "sv")
    assert said.startswith("det går inte att skicka förfrågan via 127.0.0.1:")
    assert ": anslutningen nekades (" in said
    assert info.value.retryable
