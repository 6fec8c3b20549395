"""A short-lived cache of verdicts, so a permalink opened by three colleagues is one lookup.

Support staff reload pages, share permalinks and go back and forth between the search and the
details; each would otherwise ask the SML and the SMP again. Answers are kept for
:attr:`WebSettings.result_ttl` seconds on the app's clock (a minute by default: registrations
move between operators, and staff must see a fresh answer after they have waited for a change).
``unknown`` answers are never kept: trying again must really try again.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Hashable

from peppolnet.clock import Clock
from peppolnet.reachability import Reachability, Verdict

__all__ = ["ResultCache"]


class ResultCache:
    """Verdicts by query, for ``ttl`` seconds, at most ``size`` of them (oldest dropped first)."""

    def __init__(self, ttl: float, clock: Clock, size: int = 10_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.size = size
        self._entries: collections.OrderedDict[Hashable, tuple[float, Reachability]] = (
            collections.OrderedDict()
        )

    async def get(
        self, key: Hashable, compute: Callable[[], Awaitable[Reachability]]
    ) -> Reachability:
        """The kept answer for ``key``, or ``compute()``'s (kept unless it is unknown)."""
        now = self.clock.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        result = await compute()
        if self.ttl > 0 and result.verdict is not Verdict.UNKNOWN:
            self._entries[key] = (now + self.ttl, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return result

    def clear(self) -> None:
        """Forget every answer (after a request was sent, say)."""
        self._entries.clear()
