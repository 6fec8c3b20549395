"""``peppolnet sml name|lookup`` end to end (lookups against the sandbox DNS server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from peppolnet.cli import main
from peppolnet.sandbox.dns_server import DnsServer

LABEL = "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a"
ZONE = "sml.sandbox.test"


def test_name_production_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sml", "name", "9915:TEST"]) == 0
    out = capsys.readouterr().out
    assert out == f"{LABEL}.iso6523-actorid-upis.participant.sml.prod.tech.peppol.org\n"


def test_name_test_network_and_uri(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sml", "name", "iso6523-actorid-upis::9915:test", "--network", "test"]) == 0
    out = capsys.readouterr().out
    assert out == f"{LABEL}.iso6523-actorid-upis.participant.sml.test.tech.peppol.org\n"


def test_name_zone_and_legacy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sml", "name", "9915:test", "--zone", "my.zone.", "--legacy-cname"]) == 0
    out = capsys.readouterr().out
    assert out == "B-85008b8279e07ab0392da75fa55856a2.iso6523-actorid-upis.my.zone\n"


def test_name_invalid_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sml", "name", "not an id"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("peppolnet: error:")
    assert "Traceback" not in err


def test_name_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sml", "name", "9915:test", "--network", "moon"]) == 2
    assert "unknown network 'moon'" in capsys.readouterr().err
    assert main(["sml"]) == 2
    assert "choose one of: name, lookup" in capsys.readouterr().err


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer([ZONE]) as srv:
        srv.add_participant("9915:test", "https://smp.sandbox.test")
        yield srv


def _lookup(server: DnsServer, *extra: str) -> int:
    return main(
        [
            "sml",
            "lookup",
            "--zone",
            ZONE,
            "--nameserver",
            "127.0.0.1",
            "--port",
            str(server.port),
            "--timeout",
            "0.3",
            *extra,
        ]
    )


def test_lookup_found(server: DnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lookup(server, "9915:test") == 0
    assert capsys.readouterr().out == "https://smp.sandbox.test\n"
    assert _lookup(server, "9915:test", "--json", "--tcp") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["smp_url"] == "https://smp.sandbox.test"
    assert data["record_name"].startswith(LABEL)
    assert data["records"] == ['100 10 "U" "Meta:SMP" "!.*!https://smp.sandbox.test!" .']


def test_lookup_not_registered(server: DnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lookup(server, "9915:nobody") == 1
    assert "not registered" in capsys.readouterr().err


def test_lookup_dns_failure(server: DnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.set_fault(None, "servfail")
    assert _lookup(server, "9915:test") == 3
    assert "SERVFAIL" in capsys.readouterr().err


def test_lookup_http_policy(server: DnsServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.add_participant("9915:test", "http://smp.sandbox.test", legacy_cname=True)
    assert _lookup(server, "9915:test") == 1
    assert "requires https" in capsys.readouterr().err
    assert _lookup(server, "9915:test", "--allow-http") == 0
    assert capsys.readouterr().out == "http://smp.sandbox.test\n"
    assert _lookup(server, "9915:test", "--legacy-cname") == 0
    assert capsys.readouterr().out.startswith("http://B-85008b8279e07ab0392da75fa55856a2.")
