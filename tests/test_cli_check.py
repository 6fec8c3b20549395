"""``peppolnet check``: a whole register through the command line, over the sandbox."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import peppolnet.cli.commands.check as check_command
from peppolnet.bulk import Progress, read_done, read_register
from peppolnet.cli import main
from peppolnet.sandbox import Sandbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(key_dir=tmp_path_factory.mktemp("keys")) as sb:
        yield sb


@pytest.fixture
def on_sandbox(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Point ``--network`` at the running sandbox (the state-file route is another command's)."""
    monkeypatch.setattr(check_command, "networks_from_arguments", lambda args: sandbox.network)
    return sandbox


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def test_check_writes_every_row_and_a_summary(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    assert main(["check", str(FIXTURE), "-o", str(out), "--json", "--concurrency", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == 42
    assert summary["written"] == 42
    invalid = sum(r.problem is not None for r in read_register(FIXTURE))
    assert summary["verdicts"]["invalid-input"] == invalid
    assert summary["operators"]["Kvittra AB (PSE000102)"] >= 1
    assert summary["countries"]["SE"]["total"] == 15
    rows = read_csv(out)
    assert [r["row"] for r in rows] == [str(i) for i in range(1, 43)]
    assert rows[0]["name"] == "Nordlys Bygg AB"  # the input columns, unchanged
    assert rows[0]["verdict"] == "can-receive"
    assert rows[0]["seat_id"] == "PSE000102"
    assert rows[38]["verdict"] == "invalid-input"
    assert rows[38]["reason"]


def test_the_run_collects_garbage_less_often_and_puts_the_collector_back(
    on_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``peppolnet check`` raises the young generation's threshold while it checks (its own
    process, a long run) and leaves the collector as it found it, also when the run fails."""
    import gc

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    real = check_command._check

    def watched(*args: Any) -> Any:
        seen.append(gc.get_threshold())
        return real(*args)

    monkeypatch.setattr(check_command, "_check", watched)
    out = tmp_path / "out.csv"
    assert main(["check", str(FIXTURE), "-o", str(out), "--json", "--concurrency", "4"]) == 0
    assert seen[0][0] >= 20_000
    assert seen[0][1:] == before[1:]
    assert gc.get_threshold() == before

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(check_command, "_check", broken)
    with pytest.raises(RuntimeError, match="a bug of ours"):
        main(["check", str(FIXTURE), "-o", str(tmp_path / "again.csv"), "--json"])
    assert gc.get_threshold() == before


def test_human_summary_and_default_output(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "kunder.csv"
    register.write_bytes(
        "Företagsnamn;Orgnr;E-post\nFjällräv Konsult AB;550912-8723;a@b.example\n".encode("cp1252")
    )
    assert main(["check", str(register), "--country", "se"]) == 0
    text = capsys.readouterr().out
    assert "1 rows" in text
    assert "can-receive" in text
    output = tmp_path / "kunder.checked.csv"
    assert output.read_text(encoding="utf-8-sig").startswith("Företagsnamn;Orgnr;E-post;row;")
    rows = read_csv(output, delimiter=";")  # the register's delimiter: Excel opens it in columns
    assert rows[0]["Företagsnamn"] == "Fjällräv Konsult AB"
    assert rows[0]["operator_name"] == "Norrsken Invoice AB"


@pytest.mark.parametrize("fmt", ["jsonl", "xlsx"])
def test_other_formats(on_sandbox: Sandbox, tmp_path: Path, fmt: str) -> None:
    if fmt == "xlsx":
        openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    out = tmp_path / f"out.{fmt}"
    assert main(["check", str(FIXTURE), "-o", str(out)]) == 0
    if fmt == "jsonl":
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [line["row"] for line in lines] == list(range(1, 43))
        assert lines[0]["input"]["name"] == "Nordlys Bygg AB"
    else:
        sheet = openpyxl.load_workbook(out).worksheets[0]
        assert sheet.max_row == 43
        assert sheet.cell(2, 1).value == "Nordlys Bygg AB"


def test_interrupt_keeps_rows_and_resume_finishes(
    on_sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out.csv"
    real_call = check_command._ProgressLine.__call__

    def ctrl_c_after_ten(self: check_command._ProgressLine, progress: Progress) -> None:
        real_call(self, progress)
        if progress.done == 11:
            raise KeyboardInterrupt

    monkeypatch.setattr(check_command._ProgressLine, "__call__", ctrl_c_after_ten)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main(["check", str(FIXTURE), "-o", str(out), "--concurrency", "2"]) == 130
    assert "--resume" in capsys.readouterr().err
    kept = read_csv(out)
    assert [r["row"] for r in kept] == [str(i) for i in range(1, 11)]

    monkeypatch.setattr(check_command._ProgressLine, "__call__", real_call)
    requests_before = sum(s.requests for s in on_sandbox.smps.values())
    assert main(["check", str(FIXTURE), "-o", str(out), "--resume", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed"] == 10
    assert summary["written"] == 32
    assert summary["total"] == 42
    assert summary["countries"]["SE"]["total"] == 15  # resumed rows counted by country too
    rows = read_csv(out)
    assert sorted(int(r["row"]) for r in rows) == list(range(1, 43))
    # the ten kept rows (all can-receive, one lookup each) were not asked again
    requests = sum(s.requests for s in on_sandbox.smps.values()) - requests_before
    assert requests <= 32


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(FIXTURE), "--column", "orgnr"]) == 2
    assert "ROLE=HEADER" in capsys.readouterr().err
    assert main(["check", str(FIXTURE), "--concurrency", "0"]) == 2
    assert main(["check", str(FIXTURE), "--doctype", ""]) == 2
    assert main(["check", str(FIXTURE), "-o", str(FIXTURE)]) == 2
    assert "must not be the register" in capsys.readouterr().err
    assert main(["check", str(FIXTURE), "--format", "pdf"]) == 2


def test_unreadable_register_exits_2_unusable_register_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["check", str(bad), "-o", str(tmp_path / "o.csv")]) == 1
    assert "no participant id column" in capsys.readouterr().err
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("x,y\n1,2\n", encoding="utf-8")
    assert main(["check", str(FIXTURE), "-o", str(foreign), "--resume"]) == 1
    assert "cannot resume" in capsys.readouterr().err


def test_output_delimiter(on_sandbox: Sandbox, tmp_path: Path) -> None:
    register = tmp_path / "r.csv"
    register.write_text("Namn;Orgnr\nA;0007:5584821341\nB;0007:5567321707\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    assert main(["check", str(register), "-o", str(out), "--output-delimiter", "tab"]) == 0
    assert out.read_text(encoding="utf-8-sig").startswith("Namn\tOrgnr\trow\t")
    assert main(["check", str(register), "-o", str(out), "--output-delimiter", ","]) == 0
    assert [r["Namn"] for r in read_csv(out)] == ["A", "B"]

    # a resumed output goes on with the delimiter it was started with, whatever the default
    out.write_text(
        "\ufeffNamn|Orgnr|row|participant_id|verdict|operator_name|seat_id|smp_host|reason\n"
        "A|0007:5584821341|1|iso6523-actorid-upis::0007:5584821341|can-receive|K|PSE000102|h|\n",
        encoding="utf-8",
    )
    assert main(["check", str(register), "-o", str(out), "--resume"]) == 0
    rows = read_csv(out, delimiter="|")
    assert [r["row"] for r in rows] == ["1", "2"]
    assert (
        main(["check", str(register), "-o", str(out), "--resume", "--output-delimiter", ";"]) == 2
    )


def test_column_mapping(on_sandbox: Sandbox, tmp_path: Path) -> None:
    register = tmp_path / "r.csv"
    register.write_text("Kund,Nummer,Ort\nA,0007:5584821341,X\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    args = ["check", str(register), "-o", str(out), "--column", "participant_id=Nummer"]
    assert main(args) == 0
    line = json.loads(out.read_text(encoding="utf-8"))
    assert line["verdict"] == "can-receive"


def test_outputs_no_writer_knows_fail_before_the_work(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests_before = sum(s.requests for s in on_sandbox.smps.values())
    out = tmp_path / "o.csv"
    assert main(["check", str(FIXTURE), "-o", str(tmp_path / "o.pdf")]) == 2
    assert "no writer knows the suffix of 'o.pdf'" in capsys.readouterr().err
    assert main(["check", str(FIXTURE), "-o", str(out), "--chart", str(tmp_path / "c.pdf")]) == 2
    assert ".png or .svg" in capsys.readouterr().err
    assert not out.exists()
    assert not (tmp_path / "o.pdf").exists()
    assert sum(s.requests for s in on_sandbox.smps.values()) == requests_before


def test_chart_option(on_sandbox: Sandbox, tmp_path: Path) -> None:
    chart = tmp_path / "c.svg"
    assert main(["check", str(FIXTURE), "-o", str(tmp_path / "o.csv"), "--chart", str(chart)]) == 0
    assert b"<svg" in chart.read_bytes()


SIGINT_SCRIPT = """
import sys
from pathlib import Path
from peppolnet.sandbox import Sandbox
import peppolnet.cli.commands.check as check_command
from peppolnet.cli import main

with Sandbox.start(key_dir=Path(sys.argv[3])) as sandbox:
    sandbox.dns.set_latency(0.15)
    check_command.networks_from_arguments = lambda args: sandbox.network
    print("ready", flush=True)
    code = main(["check", sys.argv[1], "-o", sys.argv[2], "--concurrency", "2", *sys.argv[4:]])
sys.exit(code)
"""


@pytest.mark.parametrize("processes", [[], ["--processes", "2"]])
def test_real_ctrl_c_then_resume(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], processes: list[str]
) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SIGINT_SCRIPT,
            str(FIXTURE),
            str(out),
            str(tmp_path / "keys"),
            *processes,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if out.is_file() and out.read_text(encoding="utf-8-sig").count("\n") >= 6:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "--resume" in err
    kept = [int(r["row"]) for r in read_csv(out)]
    assert 5 <= len(kept) < 42
    assert kept == list(range(1, len(kept) + 1))  # ordered output: a clean prefix

    assert main(["check", str(FIXTURE), "-o", str(out), "--resume", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed"] == len(kept)
    assert summary["total"] == 42
    assert sorted(int(r["row"]) for r in read_csv(out)) == list(range(1, 43))


def test_formula_cells_from_the_register_and_the_network_are_neutralised(
    on_sandbox: Sandbox, tmp_path: Path
) -> None:
    # The SML answer is not signed: whoever answers DNS chooses the SMP host, and the host
    # ends up in a cell of the output.
    on_sandbox.dns.add_participant("0007:5599990001", "https://=1+2.example")
    register = tmp_path / "kunder.csv"
    register.write_text(
        "Namn;Peppol ID;Saldo;Anteckning\n"
        '"=HYPERLINK(""https://evil.example"";""klicka"")";0007:5599990001;-5;@SUM(1+1)\n'
        "Nordlys Bygg AB;0007:5584821341;-1200,50;+1+1\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["check", str(register), "-o", str(out), "--timeout", "5"]) == 0
    rows = read_csv(out, delimiter=";")
    assert rows[0]["Namn"] == '\'=HYPERLINK("https://evil.example";"klicka")'
    assert rows[0]["Saldo"] == "-5"  # a plain number stays a number
    assert rows[0]["Anteckning"] == "'@SUM(1+1)"
    assert rows[0]["verdict"] == "unknown"
    assert rows[0]["smp_host"] == "'=1+2.example"
    assert rows[1]["Saldo"] == "-1200,50"
    assert rows[1]["Anteckning"] == "'+1+1"
    assert rows[1]["verdict"] == "can-receive"
    numbers = ("-5", "-1200,50")
    for row in rows:
        assert not any(c and c[0] in "=+-@\t\r" and c not in numbers for c in row.values())


@pytest.fixture
def noted(tmp_path: Path) -> tuple[Path, list[str]]:
    """The fixture register with a note column whose every value has line breaks (quoted CSV
    fields spanning lines): the register and its notes, by row."""
    path = tmp_path / "kunder.csv"
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    notes = [f"levereras till\nlager {i}\r\nport 2" for i in range(1, len(rows) + 1)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*header, "note"])
        writer.writerows([*row, note] for row, note in zip(rows, notes, strict=True))
    return path, notes


def kill_after(out: Path, count: Callable[[Path], int], rows: int, register: Path) -> int:
    """Run ``peppolnet check register -o out`` in a child (its own sandbox, slowed down) and
    SIGKILL it as soon as ``count(out)`` reaches ``rows``; returns how many it counted."""
    import signal
    import subprocess
    import sys
    import time

    keys = out.parent / "child-keys"
    process = subprocess.Popen(
        [sys.executable, "-c", SIGINT_SCRIPT, str(register), str(out), str(keys)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    counted = 0
    hung = time.monotonic() + 600  # not a speed limit: only so that a hung child fails the test
    try:
        while process.poll() is None and time.monotonic() < hung:
            counted = count(out)
            if counted >= rows:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        else:
            process.kill()
        _, err = process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed: {err}"
    return counted


def csv_records(path: Path) -> int:
    """Records in a CSV output so far (the header not counted), read with the csv module."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return max(0, sum(1 for _ in csv.reader(fh)) - 1)
    except (OSError, csv.Error):
        return 0


def resume_csv(
    register: Path, out: Path, notes: list[str], capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """``check --resume`` to the end; the output must then hold one row per input row, in
    order, with every note (line breaks and all) as the register has it. Returns the summary."""
    capsys.readouterr()
    assert main(["check", str(register), "-o", str(out), "--resume", "--json"]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert summary["total"] == 42
    rows = read_csv(out)
    assert [int(r["row"]) for r in rows] == list(range(1, 43))  # one output row per input row
    assert [r["note"] for r in rows] == notes
    return summary


def test_kill_9_then_resume_with_line_breaks_in_quoted_fields(
    on_sandbox: Sandbox,
    tmp_path: Path,
    noted: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    register, notes = noted
    out = tmp_path / "out.csv"
    assert kill_after(out, csv_records, 6, register) >= 6
    kept = [int(r["row"]) for r, _ in read_done(out, "csv")]
    assert kept == list(range(1, len(kept) + 1))  # every finished row, in order
    assert 5 <= len(kept) < 42

    summary = resume_csv(register, out, notes, capsys)
    assert summary["resumed"] == len(kept)


def test_a_kill_after_a_line_break_inside_a_quoted_field_then_resume(
    on_sandbox: Sandbox,
    tmp_path: Path,
    noted: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Where a real kill lands cannot be chosen; this is the one place the old line-based reader
    # got wrong: the file ends with a complete line, inside the last record.
    register, notes = noted
    out = tmp_path / "out.csv"
    assert main(["check", str(register), "-o", str(out), "--json"]) == 0
    data = out.read_bytes()
    cut = data.index(b"lager 20\r\n") + len(b"lager 20\r\n")
    out.write_bytes(data[:cut])
    summary = resume_csv(register, out, notes, capsys)
    assert (summary["resumed"], summary["written"]) == (19, 23)


def journal_rows(path: Path) -> int:
    """Rows in an XLSX output's journal so far (its header line not counted)."""
    journal = path.with_name(path.name + ".journal")
    try:
        return max(0, journal.read_bytes().count(b"\n") - 1)
    except OSError:
        return 0


def test_kill_9_then_resume_an_xlsx_output(
    on_sandbox: Sandbox,
    tmp_path: Path,
    noted: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    register, notes = noted
    out = tmp_path / "out.xlsx"
    assert kill_after(out, journal_rows, 6, register) >= 6
    assert not out.exists()  # no workbook: it is written when the run ends
    kept = [int(r["row"]) for r, _ in read_done(out, "xlsx")]  # from the journal
    assert kept == list(range(1, len(kept) + 1))
    assert 6 <= len(kept) < 42

    assert main(["check", str(register), "-o", str(out), "--resume", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["resumed"], summary["total"]) == (len(kept), 42)
    assert not out.with_name("out.xlsx.journal").exists()
    sheet = openpyxl.load_workbook(out).worksheets[0]
    header, *rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert [int(r[header.index("row")]) for r in rows] == list(range(1, 43))
    assert [r[header.index("note")] for r in rows] == notes


def test_processes_write_the_same_file_as_one_process(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["check", str(FIXTURE), "-o", str(one), "--json", "--concurrency", "4"]) == 0
    first = json.loads(capsys.readouterr().out)
    argv = ["check", str(FIXTURE), "-o", str(two), "--json", "--concurrency", "4"]
    assert main([*argv, "--processes", "2"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert two.read_bytes() == one.read_bytes()
    assert {k: v for k, v in second.items() if k != "output"} == {
        k: v for k, v in first.items() if k != "output"
    }


def test_processes_resume_what_one_process_left(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
    assert main(["check", str(FIXTURE), "-o", str(whole), "--concurrency", "4"]) == 0
    capsys.readouterr()
    lines = whole.read_bytes().splitlines(keepends=True)
    part.write_bytes(b"".join(lines[:10]))  # a run stopped after ten rows
    argv = ["check", str(FIXTURE), "-o", str(part), "--resume", "--json", "--processes", "2"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["resumed"], summary["written"], summary["total"]) == (10, 32, 42)
    assert part.read_bytes() == whole.read_bytes()


def test_processes_auto_is_the_cores_at_most_eight() -> None:
    import os

    cores = len(os.sched_getaffinity(0))
    assert check_command._processes("auto") == max(1, min(cores, 8))
    assert check_command._processes(" AUTO ") == check_command._processes("auto")
    assert check_command._processes("3") == 3


def test_progress_line_names_verdicts_in_the_command_language(
    on_sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The line redrawn on a terminal counts the verdicts as the summary below it names them:
    with --lang sv 'kan ta emot 1', never the machine value 'can-receive 1'."""
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    out = tmp_path / "out.csv"
    assert main(["--lang", "sv", "check", str(FIXTURE), "-o", str(out)]) == 0
    drawn = [line for line in capsys.readouterr().err.split("\r") if " rader " in line]
    assert drawn, "no progress line was drawn"
    assert "kan ta emot 1" in drawn[0]  # the fixture's first customer can receive
    machine = ("can-receive", "cannot-receive", "not-registered", "unknown", "invalid-input")
    assert not [line for line in drawn if any(value in line for value in machine)]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "xlsx"])
def test_resume_refuses_the_output_of_another_register(
    on_sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    """A mistyped -o with --resume named another register's output: its rows were taken as
    this register's rows by number - summarised as its answers, exit 0, and this register's
    own rows never checked. The output's input columns must be the register's."""
    other = tmp_path / "leverantorer.csv"
    other.write_text("Namn;Orgnr;Land\nNordlys Bygg AB;558482-1341;SE\n", encoding="utf-8")
    out = tmp_path / f"out.{suffix}"
    assert main(["--lang", "sv", "check", str(other), "-o", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    code = main(["check", str(FIXTURE), "-o", str(out), "--resume", "--json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err  # as an output that is no check output at all
    assert captured.out == ""
    assert f"'out.{suffix}' is the output of a register with other columns than" in captured.err
    assert out.read_bytes() == before  # left as it was
    # the register it was made from resumes it, whichever language named its columns
    assert main(["check", str(other), "-o", str(out), "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resumed"] == 1
