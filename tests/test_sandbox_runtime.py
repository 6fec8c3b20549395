"""The whole sandbox over real sockets: DNS via dnspython, SMP and Directory via httpx."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from peppolnet.errors import SandboxError
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.runtime import Sandbox
from peppolnet.sml import naptr_name
from peppolnet.smp.model import Redirect, ServiceMetadata
from peppolnet.smp.parse import parse_document


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(key_dir=tmp_path_factory.mktemp("keys")) as sandbox:
        yield sandbox


def _ctx(net: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(net.tls_ca_path))


def _naptr(net: Sandbox, pid: ParticipantId) -> dns.message.Message:
    query = dns.message.make_query(naptr_name(pid, net.config.zone), "NAPTR")
    return dns.query.udp(query, "127.0.0.1", port=net.dns.port, timeout=2)


def _with_quirk(net: Sandbox, quirk: str) -> ParticipantId:
    return next(p.id for p in net.participants.values() if quirk in p.quirks)


def _metadata(net: Sandbox, pid: ParticipantId) -> httpx.Response:
    answer = _naptr(net, pid)
    regexp = answer.answer[0][0].regexp.decode()
    base = regexp.split("!")[2]
    url = f"{base}/{pid.url_segment()}/services/{BIS_BILLING_INVOICE.url_segment()}"
    return httpx.get(url, verify=_ctx(net))


def test_default_network_is_big_and_published(net: Sandbox) -> None:
    assert len(net.participants) >= 200
    assert len({p.country for p in net.participants.values()}) >= 6
    assert len(net.config.operators) >= 8
    info = net.info()
    assert info["zone"] == "sml.sandbox.peppolnet.test"
    assert info["directory_url"].startswith("https://127.0.0.1:")


def test_named_company_resolves_and_parses(net: Sandbox) -> None:
    p = next(p for p in net.participants.values() if p.name == "Nordlys Bygg AB")
    answer = _naptr(net, p.id)
    assert answer.rcode() == dns.rcode.NOERROR
    assert b"Meta:SMP" in answer.answer[0][0].service
    r = _metadata(net, p.id)
    assert r.status_code == 200
    doc = parse_document(r.content)
    assert isinstance(doc, ServiceMetadata)
    assert doc.participant == p.id
    assert doc.processes[0].endpoints[0].transport_profile == "peppol-transport-as4-v2_0"
    assert b"SignatureValue" in r.content


def test_directory_only_participant_is_not_in_dns(net: Sandbox) -> None:
    p = next(p for p in net.participants.values() if not p.in_sml)
    assert _naptr(net, p.id).rcode() == dns.rcode.NXDOMAIN
    r = httpx.get(f"{net.directory_url}/search/1.0/json", params={"q": p.name}, verify=_ctx(net))
    assert r.status_code == 200
    assert p.id.value in r.text


def test_quirks_are_rendered(net: Sandbox) -> None:
    assert b"SignatureValue" not in _metadata(net, _with_quirk(net, "unsigned")).content
    assert b"tampered" in _metadata(net, _with_quirk(net, "bad-signature")).content
    assert b"rsa-sha1" in _metadata(net, _with_quirk(net, "sha1-signature")).content
    assert b"as4-v1_0" in _metadata(net, _with_quirk(net, "old-transport-profile")).content
    assert _metadata(net, _with_quirk(net, "smp-500")).status_code == 500
    assert _metadata(net, _with_quirk(net, "missing-document-type")).status_code == 404
    echo = parse_document(_metadata(net, _with_quirk(net, "wrong-participant-echo")).content)
    assert isinstance(echo, ServiceMetadata)
    assert echo.participant.value == "0088:7300010000001"
    red = parse_document(_metadata(net, _with_quirk(net, "redirect")).content)
    assert isinstance(red, Redirect)
    assert httpx.get(red.target_url, verify=_ctx(net)).status_code == 200
    assert _naptr(net, _with_quirk(net, "dns-servfail")).rcode() == dns.rcode.SERVFAIL
    no_meta = _naptr(net, _with_quirk(net, "no-meta-smp"))
    assert b"Meta:SMP" not in no_meta.answer[0][0].service
    http_smp = _naptr(net, _with_quirk(net, "http-smp")).answer[0][0].regexp
    assert b"!http://127.0.0.1:" in http_smp


def test_business_card_served(net: Sandbox) -> None:
    p = next(p for p in net.participants.values() if p.name == "Havgård ApS")
    base = net.smp_url(net.config.operator(p.operator).smp)
    r = httpx.get(f"{base}/businesscard/{p.id.url_segment()}", verify=_ctx(net))
    assert r.status_code == 200
    assert "Havgård ApS" in r.text


def test_move_and_remove(net: Sandbox) -> None:
    p = next(p for p in net.participants.values() if p.name == "Solberg Rør AS")
    net.move_participant(p.id, "kvittra")
    regexp = _naptr(net, p.id).answer[0][0].regexp.decode()
    assert net.smp_url("kvittra-smp") in regexp
    assert net.remove_participant(p.id)
    assert _naptr(net, p.id).rcode() == dns.rcode.NXDOMAIN
    net.register_participant(p)
    assert _naptr(net, p.id).rcode() == dns.rcode.NOERROR


SMALL_NETWORK = """
[[operators]]
id = "a"
name = "A AB"
seat_id = "PSE000001"
country = "SE"
smp = "a-smp"
ap_url = "https://ap.a.test/as4"

[[smps]]
id = "a-smp"
operator = "a"
dialect = "oasis-smp-2"

[[participants]]
id = "0007:5567321707"
name = "X AB"
country = "SE"
operator = "a"
"""


def test_start_stop_repeatedly(tmp_path: Path) -> None:
    config = parse_config(SMALL_NETWORK)
    for _ in range(3):
        with Sandbox.start(config, key_dir=tmp_path) as sandbox:
            pid = ParticipantId.parse("iso6523-actorid-upis::0007:5567321707")
            r = _metadata(sandbox, pid)
            assert r.status_code == 200
            assert isinstance(parse_document(r.content), ServiceMetadata)


def test_dns_lie_from_the_file_and_at_run_time(tmp_path: Path) -> None:
    config = parse_config('[dns]\nlie = "nxdomain"\n' + SMALL_NETWORK)
    assert config.dns_faults.lie == "nxdomain"
    pid = ParticipantId.parse("iso6523-actorid-upis::0007:5567321707")
    with Sandbox.start(config, key_dir=tmp_path) as sandbox:
        denied = _naptr(sandbox, pid)
        assert (denied.rcode(), denied.authority) == (dns.rcode.NXDOMAIN, [])
        sandbox.dns.set_lie(None)  # switched while it runs, like every other DNS fault
        assert _naptr(sandbox, pid).answer
        sandbox.dns.set_lie("strip-authority")
        assert _naptr(sandbox, pid).answer


@pytest.mark.parametrize("value", ['"always"', "1", '["nxdomain"]'])
def test_dns_lie_must_be_known(value: str) -> None:
    with pytest.raises(SandboxError, match=r"dns\.lie \(line 2\): must be one of nxdomain"):
        parse_config(f"[dns]\nlie = {value}\n" + SMALL_NETWORK)


def test_config_errors_name_field_and_line() -> None:
    with pytest.raises(SandboxError, match=r"operators\[0\].seat_id \(line 3\)"):
        parse_config(
            '[[operators]]\nid = "a"\nseat_id = "X1"\nname = "n"\ncountry = "SE"\n'
            'smp = "s"\nap_url = "https://a"\n'
        )
    with pytest.raises(SandboxError, match="not valid TOML"):
        parse_config("[[operators]\n")
    with pytest.raises(SandboxError, match="unknown quirk"):
        parse_config(
            '[[operators]]\nid = "a"\nname = "A"\nseat_id = "PSE000001"\ncountry = "SE"\n'
            'smp = "s"\nap_url = "https://a"\n[[smps]]\nid = "s"\noperator = "a"\n'
            '[[participants]]\nid = "0007:5567321707"\nname = "x"\ncountry = "SE"\n'
            'operator = "a"\nquirks = ["nope"]\n'
        )


def test_directory_faults_from_the_file(tmp_path: Path) -> None:
    """The Directory takes a faults table as an SMP does; the client retries what it injects."""
    from peppolnet.directory import DirectoryClient
    from peppolnet.errors import DirectoryError
    from peppolnet.sandbox.http import Faults

    config = parse_config("[directory.faults]\nerror_share = 1.0\nseed = 3\n" + SMALL_NETWORK)
    assert config.directory_faults == Faults(error_share=1.0, seed=3)
    assert parse_config(SMALL_NETWORK).directory_faults == Faults()
    with Sandbox.start(config, key_dir=tmp_path) as sandbox:
        server = sandbox.directory_server
        assert server is not None
        paused: list[float] = []
        with (
            DirectoryClient.for_network(
                sandbox.network, rate_limit=None, sleep=paused.append
            ) as client,
            pytest.raises(DirectoryError, match="answered HTTP 50"),
        ):
            client.search(name="Anything")
        assert server.requests == 3
        assert len(paused) == 2


def test_directory_faults_must_be_known_keys() -> None:
    with pytest.raises(SandboxError, match=r"directory\.faults\.errors"):
        parse_config("[directory.faults]\nerrors = 1.0\n" + SMALL_NETWORK)
    with pytest.raises(SandboxError, match=r"directory\.faults.*between 0 and 1"):
        parse_config("[directory.faults]\nerror_share = 2.0\n" + SMALL_NETWORK)
