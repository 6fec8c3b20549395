"""Resuming a check from a program (``peppolnet.bulk.check_register``), over the sandbox: the
output is the record of what is done, and a second run checks only the rest."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from peppolnet.bulk import (
    RowSet,
    check_register,
    open_output,
    read_register,
    resume_state,
)
from peppolnet.errors import InvalidInput
from peppolnet.sandbox import Sandbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(key_dir=tmp_path_factory.mktemp("keys")) as sb:
        yield sb


def requests(sandbox: Sandbox) -> int:
    return sum(s.requests for s in sandbox.smps.values())


def test_resumed_row_numbers_are_compact() -> None:
    done = RowSet()
    assert [done.add(n) for n in [1, 2, 5, 3, 4, 7, 2]] == [True] * 6 + [False]
    assert (done.prefix, done.extra) == (5, {7})
    assert len(done) == 6
    assert 4 in done
    assert 7 in done
    assert 6 not in done
    assert 0 not in done


def test_a_run_broken_off_is_resumed_where_it_stopped(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "kunder.checked.csv"
    with check_register(read_register(FIXTURE), out) as first:
        for seen, _ in enumerate(first.check(network=sandbox.network, concurrency=2), start=1):
            if seen == 10:
                break  # as Ctrl-C would: the ten rows handed out are on disk
    assert (first.resumed, first.written) == (0, 10)

    before = requests(sandbox)
    with check_register(read_register(FIXTURE), out, resume=True) as second:
        results = list(second.check(network=sandbox.network))
    assert (second.resumed, second.written) == (10, 32)
    assert [r.row.number for r in results] == list(range(11, 43))
    assert requests(sandbox) - before <= 32  # the ten rows done were not asked again
    summary = second.summary.to_json()  # the whole register, the first run's rows included
    assert summary["total"] == 42
    assert summary["countries"]["SE"]["total"] == 15
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = [int(r["row"]) for r in csv.DictReader(fh)]
    assert sorted(rows) == list(range(1, 43))


def test_resume_state_counts_rows_by_the_registers_default_country(tmp_path: Path) -> None:
    register_file = tmp_path / "kunder.csv"
    register_file.write_text("Namn;Orgnr\nA AB;5560000001\nB AB;5560000019\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text(
        "\ufeffNamn;Orgnr;row;participant_id;verdict;operator_name;seat_id;smp_host;reason\n"
        "A AB;5560000001;1;0007:5560000001;not-registered;;;;no\n"
        "A AB;5560000001;1;0007:5560000001;not-registered;;;;no\n",  # written twice by a kill
        encoding="utf-8",
    )
    state = resume_state(out, read_register(register_file, default_country="se"))
    assert len(state) == 1
    assert 1 in state
    assert 2 not in state
    assert state.summary.to_json()["countries"] == {
        "SE": {"total": 1, "verdicts": {"not-registered": 1}, "can_receive_share": 0.0}
    }
    assert len(resume_state(tmp_path / "missing.csv", read_register(register_file))) == 0


def test_an_output_that_is_not_a_check_output_is_not_resumed(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot resume"):
        check_register(read_register(FIXTURE), foreign, resume=True)
    with pytest.raises(InvalidInput, match="cannot continue"):
        open_output(foreign, read_register(FIXTURE), resume=True)


def test_options_are_checked_when_the_run_is_asked_not_at_the_first_row(tmp_path: Path) -> None:
    with check_register(read_register(FIXTURE), tmp_path / "out.jsonl") as run:
        with pytest.raises(TypeError, match="concurency"):
            run.check(concurency=2)  # type: ignore[call-arg]
        assert run.written == 0
