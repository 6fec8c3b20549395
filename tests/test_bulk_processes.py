"""check_many(processes=N) over the sandbox: real worker processes, real DNS and HTTPS on
127.0.0.1. One row per input row whatever happens to a worker; order; refusals; stopping."""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from peppolnet.bulk import (
    BulkResult,
    RegisterRow,
    ResultCache,
    check_many,
    check_many_async,
    read_register,
)
from peppolnet.bulk import recipe as recipe_module
from peppolnet.clock import ManualClock
from peppolnet.errors import InvalidInput
from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.revocation import CrlChecker
from peppolnet.sandbox import Faults, Sandbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(key_dir=tmp_path_factory.mktemp("keys")) as sb:
        yield sb


@pytest.fixture(scope="module")
def rows() -> list[RegisterRow]:
    return list(read_register(FIXTURE))


@pytest.fixture(scope="module")
def clean(sandbox: Sandbox, rows: list[RegisterRow]) -> dict[int, dict[str, str]]:
    """Every fixture row's output columns from one process, on a healthy network."""
    return {r.row.number: r.record() for r in check_many(rows, network=sandbox.network)}


@pytest.fixture
def slow(sandbox: Sandbox) -> Iterator[None]:
    """Every SMP answer 0.3 s late, so rows are still in flight when a worker is hurt."""
    saved = {key: server.faults for key, server in sandbox.smps.items()}
    for server in sandbox.smps.values():
        server.faults = Faults(latency=0.3)
    yield
    for key, server in sandbox.smps.items():
        server.faults = saved[key]


@pytest.fixture(autouse=True)
def no_worker_left() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []  # every run ends its workers


def hurt_or_clean(results: list[BulkResult], clean: dict[int, dict[str, str]], why: str) -> int:
    """Every row is its healthy answer, or unknown because of its worker; returns how many
    were unknown for that reason."""
    hurt = 0
    for result in results:
        if result.record() != clean[result.row.number]:
            assert result.outcome == "unknown", result.record()
            assert why in str(result.reason)
            hurt += 1
    return hurt


def test_same_results_in_input_order(
    sandbox: Sandbox, rows: list[RegisterRow], clean: dict[int, dict[str, str]]
) -> None:
    many = rows * 3
    results = list(check_many(many, network=sandbox.network, concurrency=8, processes=2))
    assert [r.row.number for r in results] == [r.number for r in many]
    assert [r.record() for r in results] == [clean[r.number] for r in many]
    assert results[0].reachability is not None
    assert results[0].reachability.operator is not None  # the whole answer crossed over


def test_a_small_reorder_window_keeps_the_order(
    sandbox: Sandbox, rows: list[RegisterRow], slow: None
) -> None:
    # at most 5 rows between the input and the caller: a slow head holds back the rest
    read: list[int] = []

    def source() -> Iterator[RegisterRow]:
        for row in rows[:20]:
            read.append(row.number)
            yield row

    run = check_many(source(), network=sandbox.network, processes=2, concurrency=4, window=5)
    first = next(run)
    assert first.row.number == 1
    assert len(read) <= 6  # the window, and the row that found it full
    assert [first.row.number, *(r.row.number for r in run)] == list(range(1, 21))


def test_a_participant_is_looked_up_once_whatever_the_worker(
    sandbox: Sandbox, rows: list[RegisterRow]
) -> None:
    # routed by the participant key: every duplicate reaches the worker that has its answer
    valid = [r for r in rows if r.problem is None]
    distinct = {tuple(c.uri.lower() for c in r.candidates) for r in valid}
    many = rows * 4
    results = list(check_many(many, network=sandbox.network, concurrency=8, processes=3))
    assert len(results) == len(many)
    assert sum(r.attempts for r in results) == len(distinct)


def test_unordered_every_row_once(sandbox: Sandbox, rows: list[RegisterRow]) -> None:
    progress: list[int] = []
    results = list(
        check_many(
            rows * 2,
            network=sandbox.network,
            processes=2,
            ordered=False,
            window=8,
            progress=lambda p: progress.append(p.done),
        )
    )
    assert sorted(r.row.number for r in results) == sorted(list(range(1, 43)) * 2)
    assert progress == list(range(1, 85))


def test_a_killed_worker_makes_its_rows_unknown(
    sandbox: Sandbox, rows: list[RegisterRow], clean: dict[int, dict[str, str]], slow: None
) -> None:
    run = check_many(rows, network=sandbox.network, concurrency=4, processes=2, deadline=10)
    results = [next(run)]
    victim = multiprocessing.active_children()[0].pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    results.extend(run)
    assert [r.row.number for r in results] == list(range(1, 43))
    assert hurt_or_clean(results, clean, "ended (exit code -9) before it answered") >= 1


@pytest.mark.parametrize(
    ("fault", "why", "at_least"),
    [
        (("raise", 2), "failed: RuntimeError: a worker fault on purpose", 1),
        # both workers exit after their first answer: every later row of theirs is unknown
        (("exit", 1), "ended (exit code 3)", 10),
    ],
    ids=["raises", "exits"],
)
def test_a_worker_that_fails_makes_its_rows_unknown(
    sandbox: Sandbox,
    rows: list[RegisterRow],
    clean: dict[int, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    fault: tuple[str, int],
    why: str,
    at_least: int,
) -> None:
    monkeypatch.setattr(recipe_module, "TEST_FAULT", fault)  # tests only: sent along
    results = list(check_many(rows, network=sandbox.network, concurrency=4, processes=2))
    assert [r.row.number for r in results] == list(range(1, 43))
    assert hurt_or_clean(results, clean, why) >= at_least


def test_a_hung_worker_is_stopped_and_its_rows_unknown(
    sandbox: Sandbox, rows: list[RegisterRow], clean: dict[int, dict[str, str]], slow: None
) -> None:
    # deadline 0.5 s, no retries: a worker silent for 2 x (0.5 + 0.5) + 2 = 4 s is hung
    run = check_many(
        rows, network=sandbox.network, concurrency=4, processes=2, deadline=0.5, backoff=0.5
    )
    results = [next(run)]
    victim = multiprocessing.active_children()[0].pid
    assert victim is not None
    os.kill(victim, signal.SIGSTOP)
    try:
        results.extend(run)
    finally:
        if _state(victim) not in ("gone", "Z"):
            os.kill(victim, signal.SIGCONT)
    assert [r.row.number for r in results] == list(range(1, 43))
    assert _state(victim) in ("gone", "Z")  # killed (the fork server reaps it)
    # a row that changed is unknown: the hung worker's, or one whose 0.3 s answer came too
    # late for the 0.5 s deadline on a busy machine - never a negative
    for result in results:
        if result.record() != clean[result.row.number]:
            assert result.outcome == "unknown"
            assert "sent nothing for 4 s and was stopped" in str(result.reason) or (
                "deadline (0.5 s) passed" in str(result.reason)
            )
    assert any("sent nothing for 4 s" in str(r.reason) for r in results)


def test_closing_early_stops_every_worker(sandbox: Sandbox, rows: list[RegisterRow]) -> None:
    run = check_many(rows * 50, network=sandbox.network, concurrency=8, processes=2)
    first = [next(run) for _ in range(3)]
    assert len(multiprocessing.active_children()) == 2
    run.close()
    assert [r.row.number for r in first] == [1, 2, 3]
    # no_worker_left: none outlives the close


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"processes": 0}, "processes must be a whole number of at least 1, not 0"),
        ({"processes": "2"}, "processes must be a whole number of at least 1, not '2'"),
        ({"processes": True}, "not True"),
        ({"processes": 4, "concurrency": 2}, "must not exceed concurrency (2)"),
        ({"processes": 2, "cache": ResultCache()}, "cache= cannot be used with processes > 1"),
        ({"processes": 2, "clock": ManualClock(START)}, "clock= cannot be used with processes > 1"),
        (
            {"processes": 2, "revocation": CrlChecker(clock=ManualClock(START))},
            "revocation= must be a CrlChecker without an http_client or clock of yours",
        ),
    ],
)
def test_settings_that_cannot_be_sent_are_refused_at_the_call(
    sandbox: Sandbox, options: dict[str, object], says: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_many(["0007:5584821341"], network=sandbox.network, **options)  # type: ignore[arg-type]
    assert says in caught.value.message


def test_lookup_objects_are_refused_and_a_partial_is_sent_as_settings(
    sandbox: Sandbox, clean: dict[int, dict[str, str]]
) -> None:
    with (
        Lookup(sandbox.network) as lookup,
        pytest.raises(InvalidInput, match="a lookup object cannot be sent"),
    ):
        check_many(["0007:5584821341"], lookup, processes=2)
    with pytest.raises(InvalidInput, match="a lookup object cannot be sent"):
        check_many(["0007:5584821341"], AsyncLookup(sandbox.network), processes=2)
    with pytest.raises(InvalidInput, match="a lookup object cannot be sent"):
        check_many(["0007:5584821341"], lambda: AsyncLookup(sandbox.network), processes=2)
    own = functools.partial(AsyncLookup, sandbox.network, timeout=5.0, per_host=2)
    results = list(check_many(["0007:5584821341", "x"], own, processes=2))
    assert [r.outcome for r in results] == ["can-receive", "invalid-input"]
    assert results[0].record()["seat_id"] == clean[1]["seat_id"]


def test_check_many_async_refuses_processes(sandbox: Sandbox) -> None:
    async def main() -> None:
        async for _result in check_many_async(["x"], network=sandbox.network, processes=2):
            pass

    with pytest.raises(InvalidInput, match="processes > 1 is for check_many"):
        asyncio.run(main())


INTERRUPTED = textwrap.dedent(
    """
    import multiprocessing, sys
    from peppolnet.bulk import check_many
    from peppolnet.sandbox import Sandbox

    if __name__ == "__main__":
        with Sandbox.start() as sb:
            sb.dns.set_latency(0.5)
            ids = [f"0088:{n:013d}" for n in range(5000)]
            run = check_many(ids, network=sb.network, concurrency=8, processes=2)
            next(run)
            pids = [p.pid for p in multiprocessing.active_children()]
            print(" ".join(map(str, pids)), flush=True)
            for _ in run:
                pass
            print("finished", flush=True)
    """
)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_ctrl_c_or_kill_9_leaves_no_worker(tmp_path: Path, how: signal.Signals) -> None:
    """Ctrl-C: the run closes its workers. kill -9: the parent cannot, but a worker's input
    closes with it, and the worker ends."""
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    assert len(workers) == 2
    proc.send_signal(how)
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0  # KeyboardInterrupt (or the kill) ended it
    assert "finished" not in rest
    for _tries in range(300):  # wide: a busy machine; usually at once
        if all(_state(pid) in ("gone", "Z") for pid in workers):
            break
        time.sleep(0.1)
    ended = {pid: _state(pid) for pid in workers}
    assert set(ended.values()) <= {"gone", "Z"}, ended


def _state(pid: int) -> str:
    """A process's state letter (a zombie, Z, has ended and waits for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_the_hang_limit_follows_the_deadline() -> None:
    from peppolnet.bulk.processes import _stall_limit

    recipe = recipe_module.Recipe(
        (), None, {"deadline": 30.0}, None, {"retries": 0, "backoff": 0.5}
    )
    assert _stall_limit(recipe) == 2.0 * 30.5 + 2.0
    recipe = recipe_module.Recipe(
        (), None, {"deadline": None}, None, {"retries": 2, "backoff": 0.5}
    )
    assert _stall_limit(recipe) is None


def test_a_crl_checker_is_sent_as_settings_and_checks_in_every_worker(
    sandbox: Sandbox, rows: list[RegisterRow]
) -> None:
    with CrlChecker(timeout=5.0) as crl:
        one = [r.record() for r in check_many(rows, network=sandbox.network, revocation=crl)]
    checker = CrlChecker(timeout=5.0)  # never used here: each worker makes its own
    results = list(
        check_many(rows, network=sandbox.network, revocation=checker, processes=2, concurrency=4)
    )
    assert [r.record() for r in results] == one
    assert checker.downloads == 0
    checks = {c.name: c.status for c in results[0].reachability.checks}  # type: ignore[union-attr]
    assert checks["revocation"] == "pass"
    assert checks["smp-revocation"] == "pass"


def test_the_run_s_totals_are_split_across_the_workers(sandbox: Sandbox) -> None:
    from peppolnet._memory import DEFAULT_BUDGET

    options = {"network": sandbox.network, "concurrency": 256, "window": 300}
    recipe = recipe_module.recipe_for(None, options, 3)  # type: ignore[arg-type]
    assert recipe.run["concurrency"] == 86  # 256 / 3, rounded up
    assert recipe.lookup["per_host"] == 11  # the default for 256 (its ceiling, 32), over 3
    assert recipe.run["cache"] == {"max_bytes": DEFAULT_BUDGET // 3}
    assert (recipe.run["window"], recipe.run["ordered"]) == (300, False)
    rebuilt = pickle.loads(pickle.dumps(recipe)).networks[0]  # as a worker gets it
    assert rebuilt == sandbox.network  # certificates and policies survive the trip
    plan = recipe.plan()  # what a worker makes of it
    assert plan.cache.max_bytes == DEFAULT_BUDGET // 3
    assert plan.concurrency == 86
    assert plan.release is not None
    asyncio.run(plan.release())


def test_a_worker_s_log_records_reach_the_caller_s_logging(
    sandbox: Sandbox, rows: list[RegisterRow], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="peppolnet")
    list(check_many(rows, network=sandbox.network, concurrency=4, processes=2))
    ours = [r for r in caplog.records if r.name == "peppolnet.lookup"]
    assert any("the SMP answer is not signed" in r.getMessage() for r in ours)
    assert all(r.levelno >= logging.WARNING and r.process != os.getpid() for r in ours)


def test_a_sentence_crosses_as_made_and_renders_alike() -> None:
    """A sentence crosses to the parent as its text, template and parameters (no formatting
    again in the parent); the copy is the same sentence in every way."""
    import pickle
    from multiprocessing.reduction import ForkingPickler

    from peppolnet.i18n import Message, _

    made = [
        _(
            "the lookup failed: {error}",
            error=_("no worker process was left to check this row"),
        ),
        _("a signed SMP answer lists a usable AS4 endpoint ({url})", url=None),
        _("the row has neither a participant id nor an organisation number"),
    ]
    copies = ForkingPickler.loads(ForkingPickler.dumps(made))
    for original, copy in zip(made, copies, strict=True):
        assert type(copy) is Message
        assert (str(copy), copy.template, copy.params) == (
            str(original),
            original.template,
            original.params,
        )
        assert copy.render("sv") == original.render("sv") != str(original)
        assert pickle.loads(pickle.dumps(copy)).render("sv") == original.render("sv")
    assert copies[2] is _("the row has neither a participant id nor an organisation number")


def test_the_fork_server_prepares_what_every_worker_would_make_again() -> None:
    """``peppolnet.bulk._prepare`` is on the fork server's preload list, and importing it (in
    a fresh interpreter, as the fork server does) leaves the async transport imported and the
    scheme table and document-type index made, so a forked worker inherits them."""
    from peppolnet.bulk import processes

    assert "peppolnet.bulk._prepare" in processes._PRELOAD
    probe = textwrap.dedent(
        """
        import sys
        import peppolnet.bulk._prepare
        from peppolnet import codelists, schemes
        index = codelists._document_type_index
        print("peppolnet._aio" in sys.modules, "peppolnet._aio11" in sys.modules,
              schemes._table.cache_info().currsize, index.cache_info().currsize)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "True", "1", "1"]
