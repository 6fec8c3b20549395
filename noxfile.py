"""Developer sessions: ``nox -s tests lint typecheck`` is what CI runs; ``nox -s demo`` the demo."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs on; CI and the quick start use whatever python3 is


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, including the runnable examples in README.md and docs/."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """A long random fuzz run (20,000 examples per target) of every parser of network answers.

    CI runs the same targets bounded and seeded as part of the tests; this is the long one.
    """
    session.install("-e", ".[test]")
    session.run(
        "pytest", "tests/test_fuzz.py", "-q", *session.posargs, env={"PEPPOLNET_FUZZ": "long"}
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over everything we ship or run."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test,dev]")
    session.run("mypy", "--strict", "src/")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job on the built-in sandbox network."""
    session.install("-e", ".")
    session.run("peppolnet", "demo", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (issues 8 and 18): ``nox -s bench`` (< 5 min on 2 cores) or
    ``nox -s bench -- --quick`` (< 2 min).

    Prints one table (every row with its target, met or not) and writes
    benchmarks/results/latest.json, from which ``python benchmarks/perf_doc.py`` regenerates
    docs/performance.md's table. The peer baseline, peppol-py, gets its own virtual environment
    under .nox/bench-peer so that its dependencies (requests, an older dnspython pin, xmlsec)
    never mix with ours. Not part of CI's pass/fail.
    """
    session.install("-e", ".[test]", "signxml")
    peer_dir = Path(session.virtualenv.location).parent / "bench-peer"
    peer_python = peer_dir / "bin" / "python"
    if not peer_python.exists():
        session.run("python", "-m", "venv", str(peer_dir))
    session.run(str(peer_python), "-m", "pip", "install", "-q", "peppol-py", external=True)
    session.run(
        "python",
        "benchmarks/run.py",
        *session.posargs,
        env={"PEPPOLNET_BENCH_PEER_PYTHON": str(peer_python)},
    )
