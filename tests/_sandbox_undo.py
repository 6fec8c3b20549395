"""Put a shared sandbox back the way a test found it - whether the test passed or failed.

Why a helper: tests of the request flow register, move and remove participants in a sandbox
shared by a whole module. Undo code at the end of a test body is skipped when an assertion
fails, and the next tests then find the participant still registered and fail too. Fixtures
built on :func:`undo_changes` run their clean-up always, and only after the operator desk has
finished what it was asked to do (so the desk cannot re-register a participant after it was
removed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peppolnet.sandbox import Sandbox


@contextmanager
def undo_changes(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Yield ``sandbox``; afterwards let the desk finish, then restore every participant."""
    before = dict(sandbox.participants)
    try:
        yield sandbox
    finally:
        sandbox.desk.release()  # held cases go now, not after the restore
        settled = sandbox.desk.settle()
        for pid in set(sandbox.participants) - set(before):
            sandbox.remove_participant(pid)
        for pid, config in before.items():
            if sandbox.participants.get(pid) != config:
                sandbox.register_participant(config)
        assert settled, "the operator desk did not finish its cases (is it stuck?)"
