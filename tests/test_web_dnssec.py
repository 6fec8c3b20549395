"""``WebSettings(dnssec=True)`` (``peppolnet serve --dnssec``) reaches every lookup the page
makes - the search, a register upload, and the cases' follow-ups that run in the background
long after the page that asked - on a sandbox whose SML zone serves bogus signatures: a forged
answer is ``unknown`` and cannot confirm a request; without the setting nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from _sandbox_undo import undo_changes
from _web import TestClient
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.recipients import HttpChannel
from peppolnet.sandbox import Sandbox
from peppolnet.web import WebSettings, create_app
from peppolnet.web.casework import CaseSettings
from peppolnet.web.register_jobs import RegisterLimits

NORDLYS = "0007:5584821341"  # with Kvittra (PSE000102) in the sandbox
NEW = "5592010069"  # a Swedish organisation not in the sandbox


@pytest.fixture
def bogus(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox with its SML zone's signatures broken; signed again after."""
    sandbox.dns.set_dnssec("bogus")
    try:
        with undo_changes(sandbox):
            yield sandbox
    finally:
        sandbox.dns.set_dnssec("signed")


def app_client(sandbox: Sandbox, *, dnssec: bool) -> TestClient:
    registry = OperatorRegistry(
        Operator(op.seat_id, op.name, op.country, aliases=frozenset({op.id}))
        for op in sandbox.config.operators
    )
    app = create_app(
        network=sandbox.network,
        channels={"desk": HttpChannel(sandbox.desk_url)},
        settings=WebSettings(lookups_per_minute=6000, lookup_burst=1000, dnssec=dnssec),
        cases=CaseSettings(operators=registry, operator="kvittra", follow_up_every=0),
        registers=RegisterLimits(concurrency=2),
    )
    return TestClient(app)


def token(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


@pytest.mark.parametrize("dnssec", [False, True], ids=["plain", "dnssec"])
def test_the_search_validates_as_the_app_was_made(bogus: Sandbox, dnssec: bool) -> None:
    with app_client(bogus, dnssec=dnssec) as client:
        data = client.get(f"/api/v1/participants/{NORDLYS}").json()
    checks = {check["name"]: check["status"] for check in data["checks"]}
    if dnssec:
        assert data["verdict"] == "unknown"
        assert checks["dnssec"] == "fail"
    else:
        assert data["verdict"] == "can-receive"
        assert "dnssec" not in checks


def test_a_register_upload_validates_too(bogus: Sandbox) -> None:
    register = "Företagsnamn;Organisationsnummer;Land\nNordlys Bygg AB;558482-1341;SE\n"
    with app_client(bogus, dnssec=True) as client:
        answer = client.post(
            "/registers",
            data={"csrf_token": token(client, "/registers"), "country": "SE"},
            files={"register": ("kunder.csv", register.encode("utf-8"), "text/csv")},
            follow_redirects=False,
        )
        job = answer.headers["location"]
        with client.stream("GET", job + "/events") as stream:
            for _ in stream.iter_lines():  # the stream ends when the job does
                pass
        progress = client.get(job + "/progress").json()
    assert progress["counts"] == {"unknown": 1}


def test_the_background_follow_up_keeps_the_apps_dnssec_setting(bogus: Sandbox) -> None:
    """The operator registers the customer, but the SML's answer is forged-looking: the
    follow-up - the one the app runs in the background, here asked for now - keeps the case
    open instead of confirming it; once the zone is signed again it confirms."""
    with app_client(bogus, dnssec=True) as client:
        sent = client.post(
            "/cases",
            data={
                "company_name": "Säkerbygg AB",
                "organisation_number": NEW,
                "country": "SE",
                "operator": "PSE000102",
                "email": "faktura@sakerbygg.example",
                "csrf_token": token(client, "/cases/new"),
            },
            follow_redirects=False,
        )
        case = sent.headers["location"]
        assert bogus.desk.wait(case.rsplit("/", 1)[1]) is not None  # the operator registered it
        client.post(case + "/follow-up", data={"csrf_token": token(client, case)})
        assert 'data-status="sent"' in client.get(case).text
        bogus.dns.set_dnssec("signed")
        client.post(case + "/follow-up", data={"csrf_token": token(client, case)})
        assert 'data-status="confirmed"' in client.get(case).text
