"""A hostile network gets nowhere (issue 13, items 3 to 5), against a running sandbox.

* Deadlines: an SMP, a CRL server or the Directory that trickles its answer a byte at a time
  cannot hold a request or a lookup, on the sync path and on the async one. The sandbox's
  trickle lasts 30 s (``HANG_SECONDS``); a lookup with a deadline of 2 s must be over well
  within 10 s. Only that wide upper bound and a lower bound are asserted: a busy machine can make
  things slower, never faster.
* Negative answers from DNS alone: a forged NAPTR record that points at a genuine SMP answering
  404, or at an ftp:// or http:// URL, gives ``cannot-receive`` for no longer than a negative
  answer is kept - the clock is a ManualClock, so hours of cache time pass at once.
* Destinations: a network with the production policy refuses the sandbox's loopback SMPs in
  every spelling before connecting - the sandbox servers count zero requests - and a URL with
  credentials is refused on every network without the secret ever being sent or shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from _networks import operators_network
from peppolnet import _http
from peppolnet._tls import context
from peppolnet.bulk import ResultCache, check_many
from peppolnet.businesscard import fetch_business_card, fetch_business_card_async
from peppolnet.cli import main
from peppolnet.clock import ManualClock
from peppolnet.destinations import LOOPBACK_ALLOWED, PUBLIC_ONLY, DestinationPolicy
from peppolnet.directory import AsyncDirectoryClient, DirectoryClient
from peppolnet.errors import (
    DeadlineExceeded,
    DestinationRefused,
    DirectoryError,
    InvalidInput,
    SmpNotFound,
    SmpUnavailable,
)
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.lookup import AsyncLookup, Lookup, _Budget, _lookup_steps, _Metadata, _Resolve
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.revocation import CrlChecker
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.http import HANG_SECONDS, Faults, HttpServer
from peppolnet.sandbox.state import write_state
from peppolnet.smp.client import AsyncSmpClient, SmpClient
from peppolnet.smp.urls import service_metadata_url

A = "0007:5567321707"  # operator a, on a-smp: the one the faults are injected into
B = "0007:5560000001"  # operator b, on b-smp
OLD_PROFILE = "0007:5560000019"  # a, but its only endpoint uses AS4 v1: a *signed* "no"
REDIRECTED = "0007:5560000027"  # a's SMP redirects to b's
# one participant per test that rewrites DNS, so that no test sees another's forgery
FORGED_404, FORGED_FTP, FORGED_HTTP, FORGED_BULK, WITH_SECRET = (
    "0007:5560000035",
    "0007:5560000043",
    "0007:5560000050",
    "0007:5560000068",
    "0007:5560000076",
)

NETWORK = operators_network(
    [
        (A, "a"),
        (B, "b"),
        (OLD_PROFILE, "a", ["old-transport-profile"]),
        (REDIRECTED, "a", ["redirect"]),
        *((pid, "a") for pid in (FORGED_404, FORGED_FTP, FORGED_HTTP, FORGED_BULK, WITH_SECRET)),
    ]
)

DEADLINE = 2.0
BOUND = 10.0  # the trickle takes HANG_SECONDS (30 s); this is where "it did not wait" ends
assert HANG_SECONDS >= 3 * BOUND


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start(parse_config(NETWORK)) as running:
        yield running


def _servers(net: Sandbox) -> list[HttpServer]:
    extra = [net.crl_server, net.directory_server, net.desk_server]
    return [*net.smps.values(), *(s for s in extra if s is not None)]


def requests(net: Sandbox) -> int:
    """Every request any sandbox HTTP server has received."""
    return sum(server.requests for server in _servers(net))


@contextlib.contextmanager
def faults(server: HttpServer | None, injected: Faults) -> Iterator[None]:
    assert server is not None
    server.faults = injected
    try:
        yield
    finally:
        server.faults = Faults()


def trickle(part: str) -> Faults:
    """Every answer's headers or body, one byte a second."""
    return Faults(**{f"trickle_{part}_share": 1.0}, trickle_interval=1.0)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    took: list[float] = []
    started = time.monotonic()
    try:
        yield took
    finally:
        took.append(time.monotonic() - started)


def ended_by_the_deadline(result: Reachability, doing: str) -> None:
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert result.retryable
    check = result.check("deadline")
    assert check is not None, str(result)
    assert check.status is CheckStatus.FAIL
    assert f"the lookup's deadline ({DEADLINE:g} s) passed while {doing}" in result.reason


# --- item 3: deadlines -----------------------------------------------------------------------


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickling_smp_cannot_hold_a_lookup(net: Sandbox, part: str) -> None:
    with (
        faults(net.smps["a-smp"], trickle(part)),
        timed() as took,
        Lookup(net.network, deadline=DEADLINE) as lookup,
    ):
        result = lookup.check(A)
    ended_by_the_deadline(result, "fetching the service metadata from the SMP")
    assert DEADLINE - 0.1 <= took[0] < BOUND


@pytest.mark.parametrize("part", ["headers", "body"])
async def test_a_trickling_smp_cannot_hold_an_async_lookup(net: Sandbox, part: str) -> None:
    with faults(net.smps["a-smp"], trickle(part)), timed() as took:
        async with AsyncLookup(net.network, deadline=DEADLINE) as lookup:
            result = await lookup.check(A)
    ended_by_the_deadline(result, "fetching the service metadata from the SMP")
    assert DEADLINE - 0.1 <= took[0] < BOUND


def test_a_trickling_crl_server_cannot_hold_a_lookup(net: Sandbox) -> None:
    """The CRL checker would wait 20 s; the lookup's deadline is what is left of 2 s."""
    with (
        faults(net.crl_server, trickle("body")),
        timed() as took,
        CrlChecker(timeout=20.0) as crl,
        Lookup(net.network, revocation=crl, deadline=DEADLINE) as lookup,
    ):
        result = lookup.check(B)
    ended_by_the_deadline(result, "checking whether the SMP's certificate is revoked")
    assert took[0] < BOUND


async def test_a_trickling_crl_server_cannot_hold_an_async_lookup(net: Sandbox) -> None:
    with (
        faults(net.crl_server, trickle("headers")),
        timed() as took,
        CrlChecker(timeout=20.0) as crl,
    ):
        async with AsyncLookup(net.network, revocation=crl, deadline=DEADLINE) as lookup:
            result = await lookup.check(B)
    ended_by_the_deadline(result, "checking whether the SMP's certificate is revoked")
    assert took[0] < BOUND


def metadata_url(net: Sandbox) -> str:
    return service_metadata_url(net.smp_url("a-smp"), ParticipantId.parse(A), BIS_BILLING_INVOICE)


@pytest.mark.parametrize(("part", "theirs"), [("headers", False), ("body", False), ("body", True)])
def test_each_smp_request_has_a_deadline_of_its_own(net: Sandbox, part: str, theirs: bool) -> None:
    """Without any lookup: ``timeout`` bounds one whole request. A client of the caller's
    (``theirs``) has a transport that knows nothing of deadlines: its trickled body is cut where
    the chunks arrive; trickled headers into it are the documented residual risk."""
    verify = context(str(net.tls_ca_path))
    with (
        faults(net.smps["a-smp"], trickle(part)),
        httpx.Client(verify=verify, timeout=30.0) as their_client,
        SmpClient(
            net.network, client=their_client if theirs else None, timeout=1.0, retries=0
        ) as client,
        timed() as took,
        pytest.raises(SmpUnavailable, match="did not answer in time"),
    ):
        client.fetch(metadata_url(net))
    assert took[0] < BOUND


@pytest.mark.parametrize("theirs", [False, True])
async def test_each_async_smp_request_has_a_deadline_of_its_own(net: Sandbox, theirs: bool) -> None:
    """aiohttp's total timeout, or ``asyncio.timeout`` around a client of the caller's."""
    verify = context(str(net.tls_ca_path))
    for part in ("headers", "body"):
        with faults(net.smps["a-smp"], trickle(part)), timed() as took:
            async with (
                httpx.AsyncClient(verify=verify, timeout=30.0) as their_client,
                AsyncSmpClient(
                    net.network, client=their_client if theirs else None, timeout=1.0, retries=0
                ) as client,
            ):
                with pytest.raises(SmpUnavailable, match="did not answer in time"):
                    await client.fetch(metadata_url(net))
        assert took[0] < BOUND


async def test_an_async_lookup_waits_for_a_turn_at_its_smp_no_longer_than_its_deadline(
    net: Sandbox,
) -> None:
    """``per_host=1``: a request that trickles holds the host's one turn until its own, longer
    deadline; a lookup waiting for that turn ends at its deadline, not when the turn comes."""
    url = metadata_url(net)
    with faults(net.smps["a-smp"], trickle("body")):
        async with AsyncSmpClient(net.network, per_host=1, timeout=30.0, retries=0) as shared:
            holder = AsyncLookup(net.network, smp_client=shared, deadline=4 * DEADLINE)
            waiter = AsyncLookup(net.network, smp_client=shared, deadline=DEADLINE)
            held = asyncio.create_task(holder.check(A))
            for _ in range(100):  # until the holder has the turn (and trickles)
                limit = shared._limit(url)
                if limit is not None and limit.locked():
                    break
                await asyncio.sleep(0.05)
            assert limit is not None
            assert limit.locked()
            with timed() as took:
                result = await waiter.check(A)
            ended_by_the_deadline(result, "fetching the service metadata from the SMP")
            assert took[0] < DEADLINE + 1.5  # the turn comes only at the holder's deadline (8 s)
            holders = await held  # its own deadline ended it
            assert holders.verdict is Verdict.UNKNOWN
            assert holders.check("deadline") is not None
            await holder.aclose()
            await waiter.aclose()


def test_retries_stop_at_the_deadline_around_them(net: Sandbox) -> None:
    """Ten retries of 1 s each would take 10 s and more; a scope of 2 s ends them."""
    url = metadata_url(net)
    with (
        faults(net.smps["a-smp"], trickle("body")),
        SmpClient(net.network, timeout=1.0, retries=10, backoff=0.1) as client,
        timed() as took,
        pytest.raises(SmpUnavailable),
        _http.scope(seconds=DEADLINE),
    ):
        client.fetch(url)
    assert took[0] < BOUND


def test_a_business_card_has_a_deadline(net: Sandbox) -> None:
    pid = ParticipantId.parse(A)
    for part in ("headers", "body"):
        with (
            faults(net.smps["a-smp"], trickle(part)),
            timed() as took,
            pytest.raises(SmpUnavailable, match="within 1 s"),
        ):
            fetch_business_card(
                net.smp_url("a-smp"), pid, timeout=1.0, verify=str(net.tls_ca_path),
                destinations=net.network.destinations,
            )  # fmt: skip
        assert took[0] < BOUND


async def test_an_async_business_card_has_a_deadline(net: Sandbox) -> None:
    pid = ParticipantId.parse(A)
    with (
        faults(net.smps["a-smp"], trickle("body")),
        timed() as took,
        pytest.raises(SmpUnavailable, match="within 1 s"),
    ):
        await fetch_business_card_async(
            net.smp_url("a-smp"), pid, timeout=1.0, verify=str(net.tls_ca_path),
            destinations=net.network.destinations,
        )  # fmt: skip
    assert took[0] < BOUND


def test_a_directory_search_has_a_deadline(net: Sandbox) -> None:
    for part in ("headers", "body"):
        with (
            faults(net.directory_server, trickle(part)),
            DirectoryClient.for_network(net.network, timeout=1.0, rate_limit=None) as directory,
            timed() as took,
            pytest.raises(DirectoryError, match="did not answer within 1 s"),
        ):
            directory.search("Customer")
        assert took[0] < BOUND


async def test_an_async_directory_search_has_a_deadline(net: Sandbox) -> None:
    with faults(net.directory_server, trickle("body")), timed() as took:
        async with AsyncDirectoryClient.for_network(
            net.network, timeout=1.0, rate_limit=None
        ) as directory:
            with pytest.raises(DirectoryError, match="did not answer within 1 s"):
                await directory.search("Customer")
    assert took[0] < BOUND


def test_the_cli_takes_a_deadline(
    net: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = write_state(net.info(), tmp_path / "state.json")
    where = ["--network", "sandbox", "--state-file", str(state)]
    with faults(net.smps["a-smp"], trickle("headers")), timed() as took:
        code = main(["lookup", A, "--deadline", "2", "--json", *where])
    assert code == 3  # unknown
    answer = json.loads(capsys.readouterr().out)
    assert answer["retryable"]
    assert [c["name"] for c in answer["checks"] if c["status"] == "fail"] == ["deadline"]
    assert took[0] < BOUND
    assert main(["lookup", A, "--deadline", "0", *where]) == 2  # not a deadline: usage error


def test_the_deadline_is_a_positive_number_or_none(net: Sandbox) -> None:
    for wrong in (0, -1, "30"):
        with pytest.raises(InvalidInput, match="deadline"):
            Lookup(net.network, deadline=wrong)  # type: ignore[arg-type]
    with Lookup(net.network, deadline=None) as lookup:
        assert lookup.check(A).verdict is Verdict.CAN_RECEIVE


def test_the_generator_names_the_step_the_deadline_ended(net: Sandbox) -> None:
    """The budget lives in the sans-I/O generator: each request carries what is left, and the
    deadline's sentence names the step that was running (driven here by hand)."""
    lookup = Lookup(net.network)
    ctx = lookup._context(A, None, None, None, None, None, None)
    ctx.budget = _Budget(5.0)
    steps = _lookup_steps(ctx)
    request = next(steps)
    assert isinstance(request, _Resolve)
    assert request.timeout is not None
    assert 0 < request.timeout <= 5.0
    with pytest.raises(StopIteration) as stop:
        steps.throw(DeadlineExceeded("the lookup's deadline passed"))
    result: Reachability = stop.value.value
    assert result.verdict is Verdict.UNKNOWN
    assert "passed while asking the SML (DNS)" in result.reason

    ctx = lookup._context(A, None, None, None, None, None, None)
    ctx.budget = _Budget(5.0)
    steps = _lookup_steps(ctx)
    resolve = next(steps)
    ctx.budget = _Budget(0.0)  # the DNS answer came just as the time ran out
    with pytest.raises(StopIteration) as stop:
        steps.send(lookup.resolver.resolve(resolve.participant))
    assert "passed while fetching the service metadata" in stop.value.value.reason
    assert stop.value.value.retryable
    lookup.close()


# --- item 4: negative answers from DNS alone are short-lived ------------------------------------


@contextlib.contextmanager
def forged(net: Sandbox, participant: str, url: str) -> Iterator[None]:
    """Publish ``participant`` -> ``url`` for a day (as a forged reply could ask to be cached);
    afterwards the participant points at its own SMP again."""
    ttl, net.dns.ttl = net.dns.ttl, 86_400
    try:
        net.dns.add_participant(participant, url)
        yield
    finally:
        net.dns.add_participant(participant, net.smp_url("a-smp"))
        net.dns.ttl = ttl


def test_a_404_reached_through_a_forged_record_is_cannot_receive_only_briefly(
    net: Sandbox,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    with Lookup(net.network, clock=clock) as lookup:
        # a genuine SMP that does not know the participant answers 404
        with forged(net, FORGED_404, net.smp_url("b-smp")):
            first = lookup.check(FORGED_404)
            assert first.verdict is Verdict.CANNOT_RECEIVE, str(first)
            assert not first.signed
        # the forgery is gone from DNS; the lookup may go on believing it, but not for long
        clock.advance(200)
        assert lookup.check(FORGED_404).verdict is Verdict.CANNOT_RECEIVE  # still cached
        queries = net.dns.queries
        clock.advance(101)  # 301 s: past max_negative_ttl (300 s), far short of the day
        again = lookup.check(FORGED_404)
    assert again.verdict is Verdict.CAN_RECEIVE, str(again)
    assert net.dns.queries > queries  # DNS was asked again


@pytest.mark.parametrize(("participant", "scheme"), [(FORGED_FTP, "ftp"), (FORGED_HTTP, "http")])
def test_an_unusable_url_from_a_forged_record_is_cannot_receive_only_briefly(
    net: Sandbox, participant: str, scheme: str
) -> None:
    clock = ManualClock(datetime.now(UTC))
    bad = net.smp_url("a-smp").replace("https://", f"{scheme}://")
    with Lookup(net.network, clock=clock) as lookup:
        with forged(net, participant, bad):
            first = lookup.check(participant)
        assert first.verdict is Verdict.CANNOT_RECEIVE, str(first)
        assert not first.signed
        clock.advance(301)
        again = lookup.check(participant)
    assert again.verdict is Verdict.CAN_RECEIVE, str(again)


def test_a_signed_no_keeps_the_records_ttl(net: Sandbox) -> None:
    """Only what nothing signed confirms is shortened: a signed ServiceMetadata that lists an
    old transport profile only is the participant's own answer; its SML record keeps its TTL."""
    clock = ManualClock(datetime.now(UTC))
    with Lookup(net.network, clock=clock) as lookup:
        with forged(net, OLD_PROFILE, net.smp_url("a-smp")):  # its own SMP, for a day
            first = lookup.check(OLD_PROFILE)
        assert first.verdict is Verdict.CANNOT_RECEIVE, str(first)
        assert first.signed
        queries = net.dns.queries
        clock.advance(3600)
        assert lookup.check(OLD_PROFILE).verdict is Verdict.CANNOT_RECEIVE
    assert net.dns.queries == queries  # answered from the cache


def test_the_bulk_cache_keeps_an_unsigned_no_only_briefly(net: Sandbox) -> None:
    clock = ManualClock(datetime.now(UTC))
    cache = ResultCache(max_age=86_400, clock=clock)  # a day, as a long run might choose
    with Lookup(net.network, clock=clock) as lookup:
        with forged(net, FORGED_BULK, net.smp_url("b-smp")):
            [first] = check_many([FORGED_BULK], lookup, cache=cache)
        assert first.verdict == "cannot-receive"
        clock.advance(301)
        [second] = check_many([FORGED_BULK], lookup, cache=cache)
        assert second.verdict == "can-receive", second.reason
        hits = cache.hits
        clock.advance(3600)  # a signed "yes" may stay for max_age
        [third] = check_many([FORGED_BULK], lookup, cache=cache)
    assert third.verdict == "can-receive"
    assert cache.hits == hits + 1


# --- item 5: destinations ----------------------------------------------------------------------


def production_policy(net: Sandbox) -> object:
    """The sandbox network with the policy every built-in network has."""
    return net.network.replace(destinations=PUBLIC_ONLY)


def refused(result: Reachability, phrase: str) -> None:
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert not result.retryable
    check = result.check("destination")
    assert check is not None, str(result)
    assert check.status is CheckStatus.FAIL
    assert phrase in result.reason


def test_the_production_policy_refuses_the_sandbox_smps_before_connecting(net: Sandbox) -> None:
    before = requests(net)
    with Lookup(production_policy(net)) as lookup:  # type: ignore[arg-type]
        results = [lookup.check(pid) for pid in (A, B, REDIRECTED)]
    for result in results:
        refused(result, "points to 127.0.0.1, a loopback address")
    assert requests(net) == before


async def test_the_production_policy_refuses_them_on_the_async_path_too(net: Sandbox) -> None:
    before = requests(net)
    async with AsyncLookup(production_policy(net)) as lookup:  # type: ignore[arg-type]
        result = await lookup.check(A)
    refused(result, "a loopback address")
    assert requests(net) == before


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "localhost"]
)
def test_every_spelling_of_loopback_is_refused(net: Sandbox, host: str) -> None:
    port = net.smps["a-smp"].port
    before = requests(net)
    with (
        forged(net, FORGED_404, f"https://{host}:{port}"),
        Lookup(production_policy(net)) as lookup,  # type: ignore[arg-type]
    ):
        result = lookup.check(FORGED_404)
    refused(result, "loopback")
    assert requests(net) == before


def test_a_redirect_to_a_refused_destination_is_not_followed(net: Sandbox) -> None:
    """The first SMP is allowed (127.0.0.1 by range), the redirect's target (named localhost,
    a loopback name the policy does not allow) is not: the target SMP sees nothing."""
    only_127 = net.network.replace(destinations=DestinationPolicy.allowing(networks=["127.0.0.1"]))
    service = net.services["a-smp"]
    publication = service.publication(ParticipantId.parse(REDIRECTED))
    assert publication is not None
    assert publication.redirect is not None
    target, uid, der = publication.redirect
    service.publish(
        dataclasses.replace(
            publication, redirect=(target.replace("127.0.0.1", "localhost"), uid, der)
        )
    )
    try:
        before = net.smps["b-smp"].requests
        with Lookup(only_127) as lookup:
            result = lookup.check(REDIRECTED)
    finally:
        service.publish(publication)
    refused(result, "names localhost, a loopback address")
    assert net.smps["b-smp"].requests == before


def test_credentials_in_the_smp_url_are_never_sent_nor_shown(net: Sandbox) -> None:
    with_secret = net.smp_url("a-smp").replace("https://", "https://alice:s3cret@")
    before = requests(net)
    with forged(net, WITH_SECRET, with_secret), Lookup(net.network) as lookup:
        result = lookup.check(WITH_SECRET)
    refused(result, "carries a user name or password")
    assert requests(net) == before
    shown = json.dumps(result.to_json()) + str(result)
    assert "s3cret" not in shown
    assert "alice" not in shown
    assert "https://***@127.0.0.1" in shown


def test_the_sml_command_does_not_print_credentials(
    net: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = write_state(net.info(), tmp_path / "state.json")
    with_secret = net.smp_url("a-smp").replace("https://", "https://alice:s3cret@")
    with forged(net, WITH_SECRET, with_secret):
        argv = ["sml", "lookup", WITH_SECRET, "--network", "sandbox", "--state-file", str(state)]
        assert main([*argv, "--json"]) == 0
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert "***@127.0.0.1" in out


def test_a_crl_checker_asked_directly_keeps_to_public_addresses(net: Sandbox) -> None:
    leaf = net.pki.issue_ap_certificate("PSE000009", "Direct AB", "SE").certificate
    before = net.crl_server.requests if net.crl_server else 0
    with CrlChecker(timeout=2.0) as crl:
        answer = crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC))
    assert answer.status.value == "unknown"
    assert "a loopback address" in answer.reason
    assert net.crl_server is not None
    assert net.crl_server.requests == before
    with CrlChecker(timeout=2.0, destinations=LOOPBACK_ALLOWED) as crl:
        assert crl.answer(leaf, net.pki.ap_ca, datetime.now(UTC)).status.value == "good"


def test_the_sync_transport_checks_the_address_it_connects_to(net: Sandbox) -> None:
    """The URL check cannot see what a name resolves to; the transport can. ``localhost`` has
    no special meaning to it: it is refused for the address it resolves to."""
    url = net.directory_url.replace("127.0.0.1", "localhost") + "/search/1.0/json?q=abc"
    server = net.directory_server
    assert server is not None
    before = server.requests
    with httpx.Client(transport=_http.Transport(verify=False)) as client:
        with (
            _http.scope(destinations=PUBLIC_ONLY),
            pytest.raises(DestinationRefused, match=r"localhost resolves to 127\.0\.0\.1"),
        ):
            client.get(url)
        assert server.requests == before
        # allowed, it connects; the kept-alive connection must not then serve a narrower policy
        with _http.scope(destinations=LOOPBACK_ALLOWED):
            assert client.get(url).status_code == 200
        with (
            _http.scope(destinations=PUBLIC_ONLY),
            pytest.raises(DestinationRefused, match="loopback"),
        ):
            client.get(url)
    assert server.requests == before + 1


async def test_the_async_transport_checks_the_address_it_connects_to(net: Sandbox) -> None:
    """aiohttp's transport, through its checking resolver (a name) and itself (an IP literal)."""
    server = net.smps["a-smp"]
    url = net.smp_url("a-smp") + "/anything"
    before = server.requests
    async with _http.async_client(False, timeout=5.0) as client:
        with _http.scope(destinations=PUBLIC_ONLY):
            localhost = url.replace("127.0.0.1", "localhost")
            with pytest.raises(DestinationRefused, match=r"localhost resolves to 127\.0\.0\.1"):
                await client.get(localhost)
            with pytest.raises(DestinationRefused, match="loopback"):
                await client.get(url)
        # allowed, it connects; the kept-alive connection must not then serve a narrower policy
        with _http.scope(destinations=LOOPBACK_ALLOWED):
            assert (await client.get(url)).status_code == 400  # an answer: "/anything" is no path
        with (
            _http.scope(destinations=PUBLIC_ONLY),
            pytest.raises(DestinationRefused, match="loopback"),
        ):
            await client.get(url)
    assert server.requests == before + 1


def test_the_smp_client_refuses_before_any_request(net: Sandbox) -> None:
    before = requests(net)
    with (
        SmpClient(production_policy(net), retries=0) as client,  # type: ignore[arg-type]
        pytest.raises(DestinationRefused),
    ):
        client.service_metadata(net.smp_url("b-smp"), ParticipantId.parse(B), BIS_BILLING_INVOICE)
    with (
        pytest.raises(SmpNotFound),  # the sandbox's own policy lets it through
        SmpClient(net.network, retries=0) as client,
    ):
        client.service_metadata(net.smp_url("b-smp"), ParticipantId.parse(A), BIS_BILLING_INVOICE)
    assert requests(net) == before + 1


def test_requests_carry_the_time_they_have(net: Sandbox) -> None:
    """Every request the generator yields carries the time left, never more than the deadline."""
    lookup = Lookup(net.network, deadline=7.0)
    ctx = lookup._context(A, None, None, None, None, None, None)
    steps = _lookup_steps(ctx)
    resolve = next(steps)
    assert isinstance(resolve, _Resolve)
    metadata = steps.send(lookup.resolver.resolve(resolve.participant))
    assert isinstance(metadata, _Metadata)
    assert resolve.timeout is not None
    assert metadata.timeout is not None
    assert 0 < metadata.timeout <= resolve.timeout <= 7.0
    steps.close()
    lookup.close()
