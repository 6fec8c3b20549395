"""Shared test fixtures.

``refdata`` points at ../shared/refdata (present in CI). Tests that read real samples from it skip
with a visible reason only where it is absent.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline (200 ms) is a wall-clock bound: on a busy 2-core machine it
# fails tests whose code did not change (seen on x500 respellings and register round trips).
# Speed is measured in benchmarks/, so property tests judge results only.
settings.register_profile("peppolnet", deadline=None)
settings.load_profile("peppolnet")

# The tests that press Ctrl-C (SIGINT to a child: a bulk run, `peppolnet check`) need it to
# arrive as in a terminal. A shell starts a background job (`nox -s tests &`, nohup) with SIGINT
# ignored, and every child inherits that; a handler of our own is reset to the default at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

if TYPE_CHECKING:
    from peppolnet.sandbox import Sandbox

REFDATA = Path(
    os.environ.get("PEPPOLNET_REFDATA", Path(__file__).resolve().parents[2] / "shared" / "refdata")
)


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line speaks the locale's language; tests expect English unless they ask
    (``--lang sv``, or a test that sets the locale itself), whatever the machine's locale is."""
    monkeypatch.setenv("PEPPOLNET_LANG", "en")


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data directory; skips the test (with the reason) where absent."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (set PEPPOLNET_REFDATA)")
    return REFDATA


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One running default sandbox network for the whole test session (real DNS and HTTPS)."""
    from peppolnet.sandbox import Sandbox

    with Sandbox.start() as running:
        yield running
