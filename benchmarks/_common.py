"""Shared pieces of the benchmark harness: rows, interleaved timing, the sandbox child, the peer.

Every compared figure is a ratio of two things measured in the same run, and wherever two things
are timed they are timed *interleaved* (:func:`interleaved`: A, B, A, B... with the order turned
each round), so that a burst of load from the other users of the machine hits both alike. What is
reported is the median of the rounds and their spread (lowest and highest), never the best.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEER_ZONE = "participant.sml.test.tech.peppol.org"
INVOICE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
NO_VERIFY = "peppol-py does not verify signatures or certificates"
Row = dict[str, Any]


def row(name: str, figure: str, baseline: str, ratio: float | None, target: str, met: bool | None,
        note: str = "", **data: Any) -> Row:  # fmt: skip
    """One line of the table: ``met`` is True/False for a row with a target, None for context."""
    return {
        "name": name,
        "figure": figure,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": target,
        "met": met,
        "note": note,
        "data": data,
    }


# --- timing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The median of several rounds and their spread."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def spread(self, scale: float = 1.0, unit: str = "", digits: int = 0) -> str:
        """``low-high`` in ``unit`` (values times ``scale``)."""
        return f"{self.low * scale:.{digits}f}-{self.high * scale:.{digits}f}{unit}"


def interleaved(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, Sample]:
    """Each measure once per round, in an order turned by one every round (A B C, B C A, ...),
    after one warm-up call each; the samples by name."""
    names = list(measures)
    for name in names:
        measures[name]()
    values: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            values[name].append(measures[name]())
    return {name: Sample(tuple(v)) for name, v in values.items()}


def ratio_sample(numerator: Sample, denominator: Sample) -> Sample:
    """The per-round ratios of two interleaved samples (round i over round i)."""
    return Sample(tuple(a / b for a, b in zip(numerator.values, denominator.values, strict=True)))


def per_call(fn: Callable[[], object], n: int) -> Callable[[], float]:
    """A measure: the process CPU seconds per call of ``n`` calls of ``fn``.

    CPU, not wall time: the calls are single-threaded work, and on a machine shared with other
    users wall time also counts the time the process waited for a core. With wall time the
    verify rows' per-round ratios spread 1.6-8.3x in one full run; process CPU leaves the
    work's own variation (cache contention still counts)."""

    def measure() -> float:
        start = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - start) / n

    return measure


# --- the sandbox child ---------------------------------------------------------------------------


def pipe_command(proc: subprocess.Popen[str], line: str) -> dict[str, Any]:
    """Send a child of ours one command line and read its one-line JSON reply."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    reply: dict[str, Any] = json.loads(proc.stdout.readline())
    return reply


@dataclass
class SandboxProc:
    """A running ``_sandbox_proc.py`` child: its description and its command pipe."""

    proc: subprocess.Popen[str] | None
    info: dict[str, Any]
    participants: list[str] = field(default_factory=list)

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc is not None
        return pipe_command(self.proc, line)

    def set_latency(self, seconds: float) -> None:
        self.command(f"latency {seconds}")

    def stats(self) -> dict[str, float]:
        return self.command("stats")

    def network(self) -> Any:
        """A :class:`peppolnet.network.Network` value pointing at this sandbox (its servers are
        on 127.0.0.1, which a network built by hand refuses unless told: ``destinations``)."""
        from peppolnet.destinations import DestinationPolicy
        from peppolnet.network import Network, load_pem_bundle
        from peppolnet.xmldsig import SignaturePolicy

        return Network(
            name="bench",
            sml_zone=self.info["zone"],
            smp_ca=load_pem_bundle(self.info["smp_ca"]),
            ap_ca=load_pem_bundle(self.info["ap_ca"]),
            directory_url=self.info["directory_url"],
            require_https=True,
            signature_policy=SignaturePolicy.strict(),
            nameservers=(self.info["dns"]["host"],),
            dns_port=self.info["dns"]["port"],
            tls_verify=self.info["tls_ca"],
            legacy_cname=False,
            destinations=DestinationPolicy.allowing("loopback"),
        )


class ServerCpu:
    """The sandbox's CPU (its HTTPS servers and its DNS process) over a stretch of the run."""

    def __init__(self, sb: SandboxProc) -> None:
        self.sb = sb
        self.before = sb.stats()

    def per_lookup_ms(self, lookups: int) -> tuple[float, float]:
        """(HTTPS ms, DNS ms) of server CPU per lookup since this was made."""
        after = self.sb.stats()
        http = (after["cpu"] - self.before["cpu"]) / lookups * 1e3
        dns = (after["dns_cpu"] - self.before["dns_cpu"]) / lookups * 1e3
        return http, dns


@contextmanager
def sandbox(participants: int, smps: int = 4) -> Iterator[Callable[[], SandboxProc]]:
    """Start the sandbox child now; the context gives a function that waits until it is up
    (so other benchmarks run while it signs its documents). Stopped on exit."""
    sys.path.insert(0, str(HERE))
    from _sandbox_proc import participant_ids

    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_sandbox_proc.py"), str(participants), str(smps)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready: list[SandboxProc] = []

    def wait() -> SandboxProc:
        if not ready:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox child process did not start (see its stderr)")
            ready.append(SandboxProc(proc, json.loads(line), participant_ids(participants)))
        return ready[0]

    try:
        yield wait
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the peer ------------------------------------------------------------------------------------


def peer_python() -> str | None:
    """The interpreter of the peer's own virtual environment (``PEPPOLNET_BENCH_PEER_PYTHON``)."""
    path = os.environ.get("PEPPOLNET_BENCH_PEER_PYTHON")
    return path if path and Path(path).exists() else None


def run_peer(sb: SandboxProc, mode: str, ids: list[str], threads: int = 1) -> dict[str, Any]:
    """Run ``_peer.py`` in the peer's venv against ``sb``; its JSON result."""
    python = peer_python()
    if python is None:
        return {"error": "peer venv not available (set PEPPOLNET_BENCH_PEER_PYTHON)"}
    env = dict(os.environ)
    env["REQUESTS_CA_BUNDLE"] = sb.info["tls_ca"]
    env["PEER_DNS"] = f"{sb.info['dns']['host']}:{sb.info['dns']['port']}"
    env.pop("PYTHONPATH", None)
    payload = json.dumps({"mode": mode, "ids": ids, "threads": threads, "doc": INVOICE})
    done = subprocess.run(
        [python, str(HERE / "_peer.py")],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"error": " ".join(done.stderr.strip().splitlines()[-1:]) or "peer failed"}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# --- memory --------------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size of a process, MB (Linux /proc)."""
    return _status_mb(pid, "VmRSS:")


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size of a process so far, MB (Linux /proc)."""
    return _status_mb(pid, "VmHWM:")


def _status_mb(pid: int | str, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
