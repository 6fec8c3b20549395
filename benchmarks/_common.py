"""Shared pieces of the benchmark harness: the sandbox child process, the peer, timing helpers."""

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


@dataclass
class SandboxProc:
    """A running ``_sandbox_proc.py`` child: its description and its command pipe."""

    proc: subprocess.Popen[str]
    info: dict[str, Any]
    participants: list[str] = field(default_factory=list)

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def set_latency(self, seconds: float) -> None:
        self.command(f"latency {seconds}")

    def stats(self) -> dict[str, int]:
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


@contextmanager
def sandbox(participants: int, smps: int = 4) -> Iterator[SandboxProc]:
    """Start the sandbox in a child process; stop it (close its stdin) on exit."""
    sys.path.insert(0, str(HERE))
    from _sandbox_proc import participant_ids

    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_sandbox_proc.py"), str(participants), str(smps)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox child process did not start (see its stderr)")
        yield SandboxProc(proc, json.loads(line), participant_ids(participants))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


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
        return {"error": done.stderr.strip().splitlines()[-1:] or ["peer failed"]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def rss_mb() -> float:
    """Current resident set size of this process, MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
