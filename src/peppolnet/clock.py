"""One clock for the whole library: wall time as aware UTC datetimes, plus monotonic seconds.

Why one type: a lookup stamps its answer with "now", a recipient directory compares that stamp
with "now" to decide what is due, a tracker expires requests, and the SML and result caches age
their entries. When each of those read a different clock (the calendar in one place, an injected
function in another), a test that moved one clock saw the others stand still, and a directory
judged a lookup's real time against its own simulated one. So every object the user makes
(:class:`~peppolnet.lookup.Lookup`, :class:`~peppolnet.recipients.directory.RecipientDirectory`,
:class:`~peppolnet.recipients.tracking.RequestTracker`, the caches, the revocation checker)
takes one ``clock`` and hands the same object down to everything it builds.

Two readings, because they answer different questions:

* :meth:`Clock.now` - *what time is it?* Certificate validity, SMP activation dates, timestamps
  stored in SQLite, "older than a day". Always timezone-aware UTC.
* :meth:`Clock.monotonic` - *how long ago?* Cache ages and TTLs, rate limits. Never jumps when
  the system's calendar is set.

Deadlines of real socket I/O (a DNS reply, an HTTP read) are kept in real seconds, because the
operating system waits in real seconds; a :class:`ManualClock` moves cached answers and stored
dates, not the sockets.

>>> from datetime import UTC, datetime, timedelta
>>> clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
>>> clock.advance(timedelta(days=1))
>>> clock.now().isoformat(), clock.monotonic()
('2030-01-02T00:00:00+00:00', 86400.0)
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock", "as_clock", "require_aware"]


@runtime_checkable
class Clock(Protocol):
    """What every part of the library reads time from."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences are meaningful)."""
        ...


class SystemClock:
    """The machine's clocks: ``datetime.now(UTC)`` and ``time.monotonic()``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


#: The clock every object uses unless it is given another.
SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock that moves only when told to: for tests, simulations and replays.

    Wall time and monotonic time move together, so a cache entry with a 60 s TTL expires when
    the clock is advanced by 61 s, and a stored timestamp is 61 s older at the same moment.
    Thread-safe; :meth:`sleep` advances instead of waiting, so code that takes a ``sleep``
    function can run through hours of simulated back-off at once.
    """

    def __init__(self, start: datetime, *, monotonic_start: float = 0.0) -> None:
        self._now = require_aware(start, "the start of a ManualClock")
        self._mono = float(monotonic_start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, by: timedelta | float) -> None:
        """Move both readings forward by ``by`` (a timedelta or seconds; never backwards)."""
        seconds = by.total_seconds() if isinstance(by, timedelta) else float(by)
        if seconds < 0:
            raise InvalidInput(
                _("a clock cannot go back; advance by {seconds} s refused", seconds=seconds)
            )
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not earlier than now); monotonic time moves by the same amount."""
        self.advance(require_aware(when, "the new time") - self.now())

    def sleep(self, seconds: float) -> None:
        """Advance instead of waiting (a drop-in for ``time.sleep`` in back-off loops)."""
        self.advance(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"


def as_clock(clock: Clock | None) -> Clock:
    """``clock``, or the system clock when it is None; anything else is refused by name."""
    if clock is None:
        return SYSTEM_CLOCK
    if not isinstance(clock, Clock):
        raise InvalidInput(
            _(
                "clock must be a peppolnet.clock.Clock (with now() and monotonic()), not {clock}",
                clock=repr(clock),
            )
        )
    return clock


def require_aware(when: datetime, what: str = "a point in time") -> datetime:
    """``when`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(
            _(
                "{what} must be a datetime with a time zone (e.g. UTC), not {when}",
                what=what,
                when=repr(when),
            )
        )
    return when.astimezone(UTC)
