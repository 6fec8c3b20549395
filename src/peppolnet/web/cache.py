"""A short-lived cache of verdicts, so a permalink opened by three colleagues is one lookup.

Support staff reload pages, share permalinks and go back and forth between the search and the
details; each would otherwise ask the SML and the SMP again. Answers are kept for
:attr:`WebSettings.result_ttl` seconds on the app's clock (a minute by default: registrations
move between operators, and staff must see a fresh answer after they have waited for a change).
``unknown`` answers are never kept: trying again must really try again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Final

from peppolnet._memory import ByteLru, SampledSize
from peppolnet.clock import Clock
from peppolnet.reachability import Reachability, Verdict

__all__ = ["DEFAULT_BYTES", "ResultCache"]

DEFAULT_BYTES: Final = 16 * 1024 * 1024
"""What the page's verdicts may hold by default: 16 MB, some 1,300 signed answers (~12 KB
each) or 5,000 "not registered" ones - far more than a support desk asks for in a minute."""


class ResultCache:
    """Verdicts by query, for ``ttl`` seconds, within ``max_bytes`` of estimated entry sizes
    (least recently used dropped first; sizes from :mod:`peppolnet._memory`, sampled per
    verdict as the bulk result cache does). A bound in bytes, not in entries: a count says
    nothing about memory when a signed answer is four times a "not registered" one.

    Used on the app's event loop only, so it needs no lock."""

    def __init__(self, ttl: float, clock: Clock, max_bytes: int = DEFAULT_BYTES) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_bytes = max_bytes
        self._entries: ByteLru[Hashable, tuple[float, Reachability]] = ByteLru(
            max_bytes, size=SampledSize(_verdict_of)
        )

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """The estimated bytes of the answers held now (at most ``max_bytes``)."""
        return self._entries.nbytes

    async def get(
        self, key: Hashable, compute: Callable[[], Awaitable[Reachability]]
    ) -> Reachability:
        """The kept answer for ``key``, or ``compute()``'s (kept unless it is unknown)."""
        now = self.clock.monotonic()
        found = self._entries.get(key)
        if found is not None:
            if found[0] > now:
                return found[1]
            self._entries.pop(key)
        result = await compute()
        if self.ttl > 0 and result.verdict is not Verdict.UNKNOWN:
            self._entries.put(key, (now + self.ttl, result))
        return result

    def clear(self) -> None:
        """Forget every answer (after a request was sent, say)."""
        self._entries.clear()


def _verdict_of(entry: tuple[float, Reachability]) -> Verdict:
    """The kind an entry's size is estimated by: its verdict (the shapes differ by verdict)."""
    return entry[1].verdict
