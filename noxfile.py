"""Developer sessions: ``nox -s tests lint typecheck`` is what CI runs; ``nox -s demo`` the demo."""

from __future__ import annotations

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
    """Benchmarks (issue 8). Not written yet: this session says so and fails on purpose."""
    session.error("benchmarks have not landed yet (see issue 8); nothing was measured")
