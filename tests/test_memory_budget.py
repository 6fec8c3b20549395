"""Memory budgets: caches bounded by the estimated bytes of their entries (peppolnet._memory).

No timing anywhere: eviction is decided by estimated sizes, which these tests choose or measure.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from peppolnet._memory import ENTRY_OVERHEAD, ByteLru, SampledSize, deep_size, lru_by_bytes
from peppolnet.bulk import ResultCache
from peppolnet.bulk.run import _Outcome
from peppolnet.clock import ManualClock
from peppolnet.reachability import Verdict
from peppolnet.sml import _Cache, _Entry


def by_length(key: str, value: str) -> int:
    return len(value)


def test_deep_size_counts_what_a_value_reaches_once() -> None:
    text = "x" * 1000
    assert deep_size(text) == sys.getsizeof(text)
    pair = (text, text)  # the same string twice: counted once
    assert deep_size(pair) == sys.getsizeof(pair) + sys.getsizeof(text)
    nested = {"a": [text, "y" * 500]}
    assert deep_size(nested) > sys.getsizeof(text) + 500


def test_deep_size_leaves_out_what_every_value_shares() -> None:
    # classes, enum members and None belong to the interpreter, not to one entry
    assert deep_size((Verdict.CAN_RECEIVE, None, int)) == sys.getsizeof((1, 2, 3))


def test_what_many_entries_share_is_not_counted_in_each() -> None:
    template = "the SMP at {url} answered {status}" * 20  # one object every entry points at
    entries = [{"template": template, "url": f"https://smp{i}.test"} for i in range(100)]
    own = deep_size(entries[0])
    assert own < sys.getsizeof(template)  # the shared template is left out...
    assert deep_size(entries[0], shared_refs=None) >= own + sys.getsizeof(template)  # ...or not


def test_the_least_recently_used_go_first_when_the_bytes_run_out() -> None:
    lru: ByteLru[str, str] = ByteLru(100, size=by_length)
    lru.put("a", "a" * 40)
    lru.put("b", "b" * 40)
    assert lru.get("a") is not None  # a is now the most recently used
    lru.put("c", "c" * 40)  # 120 > 100: b goes
    assert list(lru) == ["a", "c"]
    assert lru.nbytes == 80
    assert lru.get("b") is None


def test_an_entry_larger_than_the_budget_is_not_kept() -> None:
    lru: ByteLru[str, str] = ByteLru(100, size=by_length)
    lru.put("small", "s" * 10)
    lru.put("huge", "h" * 101)
    assert list(lru) == ["small"]
    assert lru.nbytes == 10


def test_replacing_a_key_charges_its_new_size_only() -> None:
    lru: ByteLru[str, str] = ByteLru(100, size=by_length)
    lru.put("a", "a" * 60)
    lru.put("a", "a" * 30)
    assert lru.nbytes == 30
    assert len(lru) == 1


def test_an_entry_limit_holds_beside_the_byte_budget() -> None:
    lru: ByteLru[str, str] = ByteLru(10_000, max_entries=2, size=by_length)
    for key in "abc":
        lru.put(key, key)
    assert list(lru) == ["b", "c"]


def test_a_zero_budget_keeps_nothing() -> None:
    for lru in (ByteLru[str, str](0, size=by_length), ByteLru[str, str](max_entries=0)):
        lru.put("a", "a")
        assert len(lru) == 0
        assert lru.nbytes == 0


@given(
    st.lists(
        st.tuples(st.sampled_from(["put", "get", "pop"]), st.integers(0, 9), st.integers(0, 60)),
        max_size=80,
    ),
    st.integers(0, 150),
    st.one_of(st.none(), st.integers(0, 6)),
)
def test_the_budget_always_holds_and_the_count_of_bytes_is_exact(
    operations: list[tuple[str, int, int]], budget: int, limit: int | None
) -> None:
    lru: ByteLru[int, str] = ByteLru(budget, max_entries=limit, size=lambda k, v: len(v))
    recency: list[int] = []  # our model: every key put and not popped, in order of use
    for operation, key, length in operations:
        if operation == "put":
            lru.put(key, "v" * length)
            if key in recency:
                recency.remove(key)
            if key in lru:
                recency.append(key)
        elif operation == "get":
            if lru.get(key) is not None:
                recency.remove(key)
                recency.append(key)
        elif lru.pop(key) is not None:
            recency.remove(key)
        assert lru.nbytes == sum(len(lru.peek(k) or "") for k in lru)
        assert lru.nbytes <= budget
        assert limit is None or len(lru) <= limit
        held = list(lru)
        assert held == recency[len(recency) - len(held) :]  # evicted from the old end only


def test_sampled_sizes_measure_the_first_of_each_kind_then_charge_the_mean() -> None:
    size = SampledSize(kind=len, every=4)
    first = size("k", "a" * 100)
    assert first == deep_size(("k", "a" * 100)) + ENTRY_OVERHEAD
    # the next three of the same kind (length) are not measured: they are charged the mean
    assert size("k", "b" * 100) == first
    assert size("k", "c" * 100) == first
    assert size("k", "d" * 100) == first
    # another kind is measured on its own
    assert size("k", "a" * 5000) > first


def outcome(verdict: Verdict, reason: str) -> _Outcome:
    return _Outcome(verdict, reason, None, 1)


def test_the_result_cache_is_bounded_by_bytes_not_entries() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    one = deep_size(((("p0",), "d"), outcome(Verdict.NOT_REGISTERED, "r" * 2000)))
    cache = ResultCache(max_age=60, clock=clock, max_bytes=10 * (one + ENTRY_OVERHEAD))
    for i in range(100):
        cache.put(((f"p{i}",), "d"), outcome(Verdict.NOT_REGISTERED, "r" * 2000))
    assert 8 <= len(cache) <= 10  # the budget, not the 100 entries put
    assert cache.nbytes <= cache.max_bytes
    assert cache.get((("p99",), "d")) is not None  # the newest stay
    assert cache.get((("p0",), "d")) is None  # the oldest went


def test_bigger_answers_take_more_of_the_result_cache_budget() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    small = ResultCache(max_age=60, clock=clock, max_bytes=200_000)
    big = ResultCache(max_age=60, clock=clock, max_bytes=200_000)
    for i in range(1000):
        small.put(((f"p{i}",), "d"), outcome(Verdict.NOT_REGISTERED, "s" * 100))
        big.put(((f"p{i}",), "d"), outcome(Verdict.NOT_REGISTERED, "b" * 5000))
    assert len(big) < len(small) / 5
    assert small.nbytes <= 200_000
    assert big.nbytes <= 200_000


def test_the_sml_cache_is_bounded_by_bytes() -> None:
    cache = _Cache(100_000, lambda: 0.0, max_bytes=50_000)
    for i in range(1000):
        name = f"b-{i:032x}.iso6523-actorid-upis.sml.test"
        cache.put(name, _Entry(10.0, name, f"https://smp{i}.example.com", ()))
    assert cache.nbytes <= 50_000
    assert 0 < len(cache) < 1000
    cache.cap(name, 5.0)  # the newest is still there, and capped in place
    entry = cache.get(name)
    assert entry is not None
    assert entry.expires == 5.0


def test_a_function_cache_by_bytes_keeps_results_within_its_budget() -> None:
    calls: list[int] = []

    @lru_by_bytes(20_000)
    def square_text(n: int) -> str:
        calls.append(n)
        return str(n * n) * 100

    assert square_text(3) == "9" * 100
    assert square_text(3) == "9" * 100
    assert calls == [3]  # the second call was answered from the cache
    for n in range(1000):
        square_text(n)
    held = square_text.cache  # type: ignore[attr-defined]
    assert held.nbytes <= 20_000
    assert 0 < len(held) < 1000
    square_text.cache_clear()  # type: ignore[attr-defined]
    assert len(held) == 0
