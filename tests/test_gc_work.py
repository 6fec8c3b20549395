"""Work for the cyclic garbage collector: none from a lookup, little from what a run keeps.

Bulk runs make hundreds of thousands of lookups in one process; an object that only the cyclic
collector can free (an exception whose traceback holds the frame that stored it) makes the
collector run - and its full collections scan everything kept, the result cache first. The
lookup tests turn the collector off for the lookups and ask it afterwards what it would have had
to find; the others check that kept answers carry no container the collector must keep scanning.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from peppolnet.bulk import ResultCache
from peppolnet.bulk.run import _Outcome
from peppolnet.i18n import Message, _
from peppolnet.lookup import AsyncLookup, Lookup, RetryPolicy
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.sandbox import Sandbox

UNREGISTERED = ("0007:5560000001", "0007:5560000019", "0088:7300010000001")


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector off (for this test only), after collecting what came before."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _registered(sandbox: Sandbox) -> str:
    plain = next(p for p in sandbox.config.participants if p.in_sml and not p.quirks)
    return str(plain.id)


def test_sync_lookups_leave_no_cycles(sandbox: Sandbox, collector_off: None) -> None:
    with Lookup(sandbox.network, timeout=2.0) as lookup:
        lookup.check(_registered(sandbox))  # connections and caches made before counting
        gc.collect()
        verdicts = [lookup.check(pid).verdict for pid in UNREGISTERED]
        verdicts.append(lookup.check(_registered(sandbox)).verdict)
        assert gc.collect() == 0
    assert verdicts == [Verdict.NOT_REGISTERED] * 3 + [Verdict.CAN_RECEIVE]


async def test_async_lookups_leave_no_cycles(sandbox: Sandbox, collector_off: None) -> None:
    async with AsyncLookup(sandbox.network, timeout=2.0) as lookup:
        await lookup.check(_registered(sandbox))
        gc.collect()
        verdicts = [(await lookup.check(pid)).verdict for pid in UNREGISTERED]
        verdicts.append((await lookup.check(_registered(sandbox))).verdict)
        assert gc.collect() == 0
    assert verdicts == [Verdict.NOT_REGISTERED] * 3 + [Verdict.CAN_RECEIVE]


def test_a_message_with_plain_parameters_is_one_object_for_the_collector() -> None:
    message = _("no Peppol registration was found for {tried}", tried="0088:1")
    gc.collect()  # tuples of plain values are untracked at the first pass, dicts at a full one
    gc.collect()
    assert gc.is_tracked(message)
    assert not gc.is_tracked(message.__dict__)
    assert message.params == {"tried": "0088:1"}
    # still rendered in Swedish from its parameters
    assert "0088:1" in message.render("sv")
    assert message.render("sv") != str(message)


def test_a_message_keeps_a_message_parameter_tracked() -> None:
    inner = _("the resolver {server}", server="127.0.0.1")
    outer = _("{resolver} said NXDOMAIN", resolver=inner)
    gc.collect()
    gc.collect()
    assert gc.is_tracked(outer.__dict__)  # it holds another message: must stay visible
    assert isinstance(outer.params["resolver"], Message)


def test_a_cached_answer_is_its_outcome_without_a_tuple_around_it() -> None:
    cache = ResultCache(max_age=60)
    outcome = _Outcome(Verdict.NOT_REGISTERED, "not registered", None, 1)
    cache.put((("0088:1",), "d"), outcome)
    kept = cache.get((("0088:1",), "d"))
    assert kept == outcome
    assert kept is not None
    assert kept.expires < float("inf")
    held = [r for r in gc.get_referrers(kept) if isinstance(r, tuple)]
    assert all(type(r[0]) is _Outcome for r in held)  # only ByteLru's (value, size)


def _with_quirk(sandbox: Sandbox, quirk: str) -> str:
    found = next(p for p in sandbox.config.participants if p.quirks == frozenset({quirk}))
    return str(found.id)


async def test_a_dns_fault_leaves_no_cycles(sandbox: Sandbox, collector_off: None) -> None:
    servfail = _with_quirk(sandbox, "dns-servfail")
    once = RetryPolicy(attempts=1)
    async with AsyncLookup(sandbox.network, timeout=2.0, retry=once) as lookup:
        await lookup.check(servfail)
        gc.collect()
        verdicts = [(await lookup.check(servfail)).verdict for _ in range(3)]
        assert gc.collect() == 0
    assert verdicts == [Verdict.UNKNOWN] * 3
    with Lookup(sandbox.network, timeout=2.0, retry=once) as sync:
        assert sync.check(servfail).verdict is Verdict.UNKNOWN
        gc.collect()
        assert sync.check(servfail).verdict is Verdict.UNKNOWN
        assert gc.collect() == 0


def test_answers_share_their_repeated_checks(sandbox: Sandbox) -> None:
    """Two answers through the same operator say the same things: one Check object for each, kept
    once however many answers a result cache holds (fewer objects for the collector)."""
    plain = [p for p in sandbox.config.participants if p.in_sml and not p.quirks]
    by_operator: dict[str, list[str]] = {}
    for participant in plain:
        by_operator.setdefault(participant.operator, []).append(str(participant.id))
    pair = next(ids[:2] for ids in by_operator.values() if len(ids) >= 2)
    with Lookup(sandbox.network, timeout=2.0) as lookup:
        first, second = (lookup.check(pid) for pid in pair)
    assert first.verdict is second.verdict is Verdict.CAN_RECEIVE
    shared = {a.name for a, b in zip(first.checks, second.checks, strict=True) if a is b}
    assert {"sml", "signature", "service-metadata", "process", "endpoint-url"} <= shared
    assert "identifier" not in shared  # it names the participant
    assert [c.text("sv") for c in first.checks if c.name == "sml"] == [
        c.text("sv") for c in second.checks if c.name == "sml"
    ]


def test_a_check_is_shared_only_for_the_same_sentence_object(sandbox: Sandbox) -> None:
    lookup = Lookup(sandbox.network)
    ctx = lookup._context(_registered(sandbox), None, None, None, None, None, None)
    sentence = _("unknown")
    ctx.add("x", CheckStatus.WARN, sentence)
    ctx.add("x", CheckStatus.WARN, "unknown")  # the same English, but no Swedish
    ctx.add("x", CheckStatus.FAIL, sentence)
    ctx.add("x", CheckStatus.WARN, sentence)
    one, plain, failed, again = ctx.checks
    assert again is one
    assert plain is not one
    assert plain.text("sv") == "unknown"
    assert one.text("sv") == "okänt"
    assert failed.status is CheckStatus.FAIL
