"""Politeness per SMP host: the rule (HostTurns, no I/O) and its values."""

from __future__ import annotations

import heapq
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.analytics import HostTurns, Politeness, smp_origin
from peppolnet.errors import InvalidInput


def test_a_host_waits_the_interval_between_starts() -> None:
    turns = HostTurns(Politeness(per_host=2, interval=1.0))
    assert turns.start("a", 10.0)
    assert turns.wait("a", 10.0) == 1.0
    assert not turns.start("a", 10.5)  # too soon, even with a free place
    assert turns.wait("b", 10.5) == 0.0  # another host is not held up
    assert turns.start("b", 10.5)
    assert turns.start("a", 11.0)
    assert not turns.start("a", 12.0)  # two are running: no third place
    turns.end("a")
    assert turns.start("a", 12.0)
    records = turns.records()
    assert records["a"].lookups == 3
    assert records["a"].peak == 2
    assert records["a"].shortest_gap == 1.0
    assert records["b"].shortest_gap is None


@settings(max_examples=200, deadline=None)
@given(
    per_host=st.integers(1, 3),
    interval=st.sampled_from([0.0, 0.25, 1.0]),
    jobs=st.lists(
        st.tuples(st.sampled_from("abc"), st.floats(0, 5), st.floats(0.1, 1)),
        max_size=20,
    ),
)
def test_no_schedule_breaks_the_rule(
    per_host: int, interval: float, jobs: list[tuple[str, float, float]]
) -> None:
    """Lookups arriving at any times, lasting any time: a simulation that always does what
    HostTurns allows never has two starts at a host closer than the interval, nor more than
    ``per_host`` running there, and every lookup eventually starts."""
    turns = HostTurns(Politeness(per_host=per_host, interval=interval))
    events: list[tuple[float, int, str, str, float]] = []  # (time, seq, kind, host, duration)
    for seq, (host, arrival, duration) in enumerate(jobs):
        heapq.heappush(events, (arrival, seq, "try", host, duration))
    starts: dict[str, list[float]] = {}
    running: dict[str, int] = {}
    seq = len(jobs)
    while events:
        now, _, kind, host, duration = heapq.heappop(events)
        seq += 1
        if kind == "end":
            turns.end(host)
            running[host] -= 1
        elif turns.start(host, now):
            starts.setdefault(host, []).append(now)
            running[host] = running.get(host, 0) + 1
            assert running[host] <= per_host
            heapq.heappush(events, (now + duration, seq, "end", host, 0.0))
        else:  # try again when the host's next start is due, or after a lookup there ends
            retry = now + max(turns.wait(host, now), 0.1)
            heapq.heappush(events, (retry, seq, "try", host, duration))
    assert sum(len(s) for s in starts.values()) == len(jobs)
    for times in starts.values():
        assert all(b - a >= interval - 1e-9 for a, b in itertools.pairwise(times))
    for host, record in turns.records().items():
        assert record.peak <= per_host
        assert record.lookups == len(starts[host])


@pytest.mark.parametrize(
    ("per_host", "interval", "named"),
    [
        (0, 0.1, "per_host"),
        (1.5, 0.1, "per_host"),
        (1, -1.0, "interval"),
        (1, float("nan"), "interval"),
    ],
)
def test_bad_politeness_is_refused_by_name(per_host: object, interval: object, named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        Politeness(per_host=per_host, interval=interval)  # type: ignore[arg-type]


def test_an_smp_host_is_its_origin() -> None:
    assert smp_origin("https://SMP.Example:8443/smp/iso6523") == "https://smp.example:8443"
    assert smp_origin("https://127.0.0.1:4000") != smp_origin("https://127.0.0.1:4001")
    assert smp_origin("http://smp.example/") == "http://smp.example"
