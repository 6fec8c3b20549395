"""Every check a real lookup makes reads as Swedish in Swedish: nothing left in English.

Lookups run against the sandbox's real DNS and HTTPS servers, for every verdict, every quirk
and the faults a lookup meets (a silent or lying resolver, an SMP that answers 500, a passed
deadline, a refused destination, revocation answers of every kind). Each check's Swedish text
must differ from its English one (so it went through the catalog) and show no unfilled
placeholder.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from peppolnet.destinations import PUBLIC_ONLY
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.pki import RevocationAnswer, RevocationStatus
from peppolnet.reachability import Reachability, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import QUIRKS, ParticipantConfig


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    """This module's own sandbox: its tests make the DNS fail and lie, which no other module
    may see."""
    with Sandbox.start() as running:
        yield running


@pytest.fixture(scope="module")
def lookup(net: Sandbox) -> Iterator[Lookup]:
    with Lookup(net.network, timeout=2.0) as lk:
        yield lk


def _with_quirk(net: Sandbox, quirk: str) -> ParticipantConfig:
    return next(p for p in net.config.participants if p.in_sml and p.quirks == {quirk})


def _plain(net: Sandbox) -> ParticipantConfig:
    return next(p for p in net.config.participants if p.in_sml and not p.quirks)


def assert_swedish(result: Reachability) -> None:
    """Every check, the reason and the summary are translated and fully filled in."""
    assert result.checks
    for check in result.checks:
        english, swedish = check.text("en"), check.text("sv")
        assert english == str(check.message)
        assert swedish != english, f"{check.name} is not translated: {english!r}"
        assert "{" not in swedish, f"{check.name}: {swedish!r}"
        assert "{" not in english, f"{check.name}: {english!r}"
    assert result.explain("sv") != result.explain("en")
    assert "{" not in result.text("sv")


def test_can_receive_with_the_list_of_document_types(net: Sandbox, lookup: Lookup) -> None:
    result = lookup.check(_plain(net).id, list_document_types=True)
    assert result.verdict is Verdict.CAN_RECEIVE
    assert result.check("service-group") is not None
    assert_swedish(result)
    assert result.explain("sv").startswith("SMP:n anger en aktiv")


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_every_quirk(net: Sandbox, lookup: Lookup, quirk: str) -> None:
    result = lookup.check(_with_quirk(net, quirk).id)
    assert_swedish(result)


def test_a_document_type_missing_from_the_list(net: Sandbox, lookup: Lookup) -> None:
    result = lookup.check(_with_quirk(net, "missing-document-type").id, list_document_types=True)
    assert result.verdict is Verdict.CANNOT_RECEIVE
    assert_swedish(result)


def test_not_registered_and_an_invalid_check_digit(net: Sandbox, lookup: Lookup) -> None:
    directory_only = next(p for p in net.config.participants if not p.in_sml)
    for query in (directory_only.id, ParticipantId.parse("0007:5567321708")):
        result = lookup.check(query)
        assert result.verdict is Verdict.NOT_REGISTERED
        assert_swedish(result)


def test_a_number_tried_under_each_scheme(net: Sandbox, lookup: Lookup) -> None:
    only_vat = next(
        p for p in net.config.participants if p.id.icd == "9925" and p.in_sml and not p.quirks
    )
    number = only_vat.id.local_id.upper().removeprefix("BE")
    result = lookup.check(number=number, country="Belgien")
    assert result.verdict is Verdict.CAN_RECEIVE, str(result)
    assert [c.status.value for c in result.checks if c.name == "sml"] == ["skipped", "pass"]
    assert_swedish(result)


def test_a_silent_resolver(net: Sandbox) -> None:
    net.dns.set_fault(None, "silence")
    try:
        with Lookup(net.network, timeout=0.3) as lk:
            result = lk.check(_plain(net).id)
    finally:
        net.dns.set_fault(None, None)
    assert result.verdict is Verdict.UNKNOWN
    assert_swedish(result)


def test_a_resolver_that_denies_everything(net: Sandbox) -> None:
    net.dns.set_lie("nxdomain")
    try:
        with Lookup(net.network, timeout=2.0) as lk:
            result = lk.check(_plain(net).id)
    finally:
        net.dns.set_lie(None)
    assert result.verdict is Verdict.UNKNOWN
    assert_swedish(result)


def test_a_passed_deadline(net: Sandbox) -> None:
    with Lookup(net.network, deadline=1e-6) as lk:
        result = lk.check(_plain(net).id)
    assert result.check("deadline") is not None
    assert_swedish(result)


def test_a_refused_destination(net: Sandbox) -> None:
    with Lookup(net.network.replace(destinations=PUBLIC_ONLY)) as lk:
        result = lk.check(_plain(net).id)
    assert result.check("destination") is not None
    assert_swedish(result)


class _Revocation:
    """A checker of a user's: ``status`` for the certificates of one CA, "good" for the rest."""

    def __init__(self, status: RevocationStatus, issuer: object, *, soft_fail: bool) -> None:
        self.status = status
        self.issuer = issuer
        self.soft_fail = soft_fail

    def answer(self, certificate: object, issuer: object, at: datetime) -> RevocationAnswer:
        if issuer != self.issuer:
            return RevocationAnswer(RevocationStatus.GOOD, "listed as good")
        return RevocationAnswer(self.status)


@pytest.mark.parametrize("role", ["ap", "smp"])
@pytest.mark.parametrize("status", list(RevocationStatus))
@pytest.mark.parametrize("soft_fail", [False, True])
def test_every_revocation_answer(
    net: Sandbox, role: str, status: RevocationStatus, soft_fail: bool
) -> None:
    issuer = net.pki.ap_ca if role == "ap" else net.pki.smp_ca
    checker = _Revocation(status, issuer, soft_fail=soft_fail)
    with Lookup(net.network, revocation=checker) as lk:  # type: ignore[arg-type]
        for participant in (_plain(net), _with_quirk(net, "redirect")):
            assert_swedish(lk.check(participant.id))


class _Broken:
    """A revocation checker of a user's that fails with something that is not ours."""

    soft_fail = False

    def answer(self, certificate: object, issuer: object, at: datetime) -> object:
        raise OSError("the CRL proxy is down")


async def test_a_checker_that_raises_on_both_paths(net: Sandbox) -> None:
    pid = _plain(net).id
    with Lookup(net.network, revocation=_Broken()) as lk:  # type: ignore[arg-type]
        assert_swedish(lk.check(pid))
    async with AsyncLookup(net.network, revocation=_Broken()) as alk:  # type: ignore[arg-type]
        assert_swedish(await alk.check(pid))


async def test_the_async_path_on_every_quirk(net: Sandbox) -> None:
    async with AsyncLookup(net.network, timeout=2.0) as lk:
        for quirk in sorted(QUIRKS):
            assert_swedish(await lk.check(_with_quirk(net, quirk).id))
