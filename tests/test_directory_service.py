"""The sandbox Directory service, called directly (the HTTP path is in test_directory_client)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory import parse_search_json, parse_search_xml
from peppolnet.identifiers import BIS_BILLING_CREDIT_NOTE, BIS_BILLING_INVOICE, ParticipantId
from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService, fold
from peppolnet.sandbox.http import Request

ACME = DirectoryEntry(
    ParticipantId.parse("0192:810306882"),
    (BIS_BILLING_INVOICE,),
    (
        BusinessEntity(
            (Name("Acme Østlandet AS", "no"),),
            "NO",
            geo_info="Oslo",
            identifiers=(("VAT", "NO810306882MVA"),),
            websites=("https://acme.example",),
            contacts=(Contact("support", "Kari", "+47 1", "kari@acme.example"),),
            additional_info="Leverer varer",
            registration_date=date(2020, 2, 1),
        ),
    ),
)
BETA = DirectoryEntry(
    ParticipantId.parse("0007:5567321707"),
    (BIS_BILLING_CREDIT_NOTE,),
    (BusinessEntity((Name("Beta AB"),), "SE"),),
)


def _get(service: DirectoryService, path: str, ip: str = "127.0.0.1", **query: str) -> tuple:
    request = Request("GET", path, {k: [v] for k, v in query.items()}, {}, b"", (ip, 1))
    response = service.handle(request)
    return response.status, response.body, response.headers


def _found(service: DirectoryService, **query: str) -> list[ParticipantId]:
    status, body, _ = _get(service, "/search/1.0/json", **query)
    assert status == 200, body
    return [m.participant for m in parse_search_json(body).matches]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name": "ostlandet"}, [ACME.participant]),
        ({"q": "kari@acme"}, [ACME.participant]),
        ({"q": "beta"}, [BETA.participant]),
        ({"country": "se"}, [BETA.participant]),
        ({"participant": "iso6523-actorid-upis::0192:810306882"}, [ACME.participant]),
        ({"participant": "0007:5567321707"}, [BETA.participant]),
        ({"doctype": BIS_BILLING_CREDIT_NOTE.uri}, [BETA.participant]),
        ({"geoinfo": "osl"}, [ACME.participant]),
        ({"identifierScheme": "VAT"}, [ACME.participant]),
        ({"identifierValue": "NO810306882"}, []),  # exact, not partial
        ({"website": "ACME.example"}, [ACME.participant]),
        ({"contact": "kari"}, [ACME.participant]),
        ({"addinfo": "varer"}, [ACME.participant]),
        ({"regdate": "2020-02-01"}, [ACME.participant]),
        ({"name": "acme", "country": "SE"}, []),  # AND-combined
    ],
)
def test_fields(query: dict[str, str], expected: list[ParticipantId]) -> None:
    assert _found(DirectoryService([ACME, BETA]), **query) == expected


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/search/1.0/json", {}, 400),
        ("/search/1.0/json", {"name": "ac"}, 400),
        ("/search/1.0/json", {"participant": "nonsense"}, 400),
        ("/search/1.0/json", {"regdate": "yesterday"}, 400),
        ("/search/1.0/json", {"q": "a", "rpi": "50"}, 400),
        ("/search/1.0/json", {"q": "a", "rpc": "0"}, 400),
        ("/search/1.0/json", {"q": "a", "resultPageIndex": "-1"}, 400),
        ("/search/1.0/json", {"q": "a", "rpi": "49"}, 200),
        ("/public/search/1.0/json", {"q": "a"}, 404),
    ],
)
def test_errors(path: str, query: dict[str, str], status: int) -> None:
    got, body, headers = _get(DirectoryService([ACME]), path, **query)
    assert got == status
    if status != 200:
        assert headers["Content-Type"].startswith("text/plain")
        assert body.strip()


def test_post_is_405_and_default_format_is_xml() -> None:
    service = DirectoryService([ACME])
    response = service.handle(Request("POST", "/search/1.0/json", {}, {}, b"", ("h", 1)))
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    status, body, headers = _get(service, "/search/1.0", q="acme")
    assert status == 200
    assert headers["Content-Type"].startswith("application/xml")
    assert parse_search_xml(body).matches[0].participant == ACME.participant


def test_json_uses_the_current_name_shape() -> None:
    _, body, _ = _get(DirectoryService([ACME]), "/search/1.0/json", q="acme")
    doc = json.loads(body)
    assert doc["version"] == "1.0"
    assert doc["query-terms"] == "q=acme"
    assert doc["matches"][0]["entities"][0]["name"] == [
        {"name": "Acme Østlandet AS", "language": "no"}
    ]


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_per_ip_sliding_window() -> None:
    clock = Clock()
    service = DirectoryService([ACME], rate_limit_per_second=2, window_seconds=2, clock=clock)
    statuses = [_get(service, "/search/1.0/json", q="acme")[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    _, _, headers = _get(service, "/search/1.0/json", q="acme")
    assert headers["Retry-After"] == "2"
    assert _get(service, "/search/1.0/json", ip="10.0.0.2", q="acme")[0] == 200  # other IP
    clock.now = 2.5  # the window has slid past every earlier request
    assert _get(service, "/search/1.0/json", q="acme")[0] == 200
    assert service.rejected == 2


def test_add_and_remove_at_run_time() -> None:
    service = DirectoryService([ACME])
    assert _found(service, q="beta") == []
    service.add(BETA)
    assert _found(service, q="beta") == [BETA.participant]
    assert service.remove(BETA.participant) is True
    assert service.remove(BETA.participant) is False
    assert _found(service, q="beta") == []
    assert len(service) == 1


def test_fold() -> None:
    assert fold("Österreich") == fold("osterreich")
    assert fold("Ørret Æbler") == "orret aebler"
