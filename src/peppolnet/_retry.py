"""One retry policy for every request peppolnet repeats, and one budget per lookup.

Retrying was written four times (the SMP client, the operator desk channel, the bulk engine, and
- by waiting out HTTP 429 - the Directory client), each with its own back-off, none with jitter,
and the layers multiplied: against an SMP that always answers 500, one bulk row cost 9 GETs (3
bulk attempts x 3 SMP-client attempts). Here there is one rule:

* :class:`RetryPolicy` says how often one request may be tried and how long to pause between
  tries: exponential back-off with jitter (each pause drawn from ``[1 - jitter, 1 + jitter]``
  times its nominal value), so that many clients failing together do not come back together.
* :class:`Budget` is the number of *retries* a whole operation may still make - a lookup: its
  DNS question, the SMP requests and the redirect all draw from it. It travels in a context
  variable (:func:`spending`), like the deadline of :func:`peppolnet._http.scope`, so each layer
  that retries asks the same budget, and an inner layer never adds tries to an outer one: a
  budget opened inside another one is the outer one. Attempts are counted once across layers.
* :func:`next_pause` is the one decision: after try ``attempt`` failed with a fault worth
  retrying, the pause before the next try - or None when the policy's tries are used up, the
  budget is spent, or the deadline would pass before the next try could end (:func:`decide`
  also says which, for the logs; :func:`peppolnet._http.retry_pause` logs each decision).

Only *faults* are retried (connection errors, timeouts, 5xx, broken bodies); an answer is never
retried (a 404, a signature that does not verify, a refused destination).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import random
import threading
from typing import Final

from peppolnet.i18n import _

__all__ = ["DEFAULT", "Budget", "RetryPolicy", "decide", "in_force", "next_pause", "spending"]


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often one request is tried and how long to pause between tries.

    ``attempts`` counts every try, the first included (1: never retry). The pause before retry
    ``n`` is ``backoff * factor ** (n - 1)``, at most ``max_pause``, times a random factor in
    ``[1 - jitter, 1 + jitter]``.
    """

    attempts: int = 3
    backoff: float = 0.25
    factor: float = 2.0
    max_pause: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(
                _("attempts must be 1 or more, not {attempts}", attempts=repr(self.attempts))
            )
        if self.backoff < 0 or self.max_pause < 0 or self.factor < 1:
            raise ValueError(_("backoff and max_pause must not be negative, factor at least 1"))
        if not 0 <= self.jitter <= 1:
            raise ValueError(
                _("jitter must be between 0 and 1, not {jitter}", jitter=repr(self.jitter))
            )

    @classmethod
    def of_retries(cls, retries: int, backoff: float) -> RetryPolicy:
        """The policy of the older ``retries=`` / ``backoff=`` options (retries after the first)."""
        return cls(attempts=max(0, retries) + 1, backoff=backoff)

    @property
    def retries(self) -> int:
        """Tries after the first."""
        return self.attempts - 1

    def pause(self, retry: int) -> float:
        """The pause before retry ``retry`` (1 for the first), jitter included."""
        nominal = min(self.max_pause, self.backoff * self.factor ** (retry - 1))
        return nominal * (1.0 - self.jitter + 2.0 * self.jitter * random.random())


#: Three tries (two retries) with pauses around 0.25 s and 0.5 s.
DEFAULT: Final = RetryPolicy()


class Budget:
    """The retries a whole operation may still make; thread-safe (a lookup's requests may run in
    worker threads)."""

    def __init__(self, retries: int) -> None:
        self._left = max(0, retries)
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        return self._left

    def take(self) -> bool:
        """Spend one retry; False when none is left."""
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


_CURRENT: Final[contextvars.ContextVar[Budget | None]] = contextvars.ContextVar(
    "peppolnet_retry_budget", default=None
)


def spending(budget: Budget | None) -> contextlib.AbstractContextManager[Budget | None]:
    """Run the block with ``budget`` as the one every retry draws from - unless a budget is open
    around it already: that outer one stays in force (an inner layer never adds tries). The
    block is given the budget in force."""
    return _Spending(budget)


class _Spending:
    """The block of :func:`spending`: a class, as :func:`peppolnet._http.scope`'s (entered for
    every request of a lookup; a generator's context manager cost several times as much)."""

    __slots__ = ("_budget", "_token")

    def __init__(self, budget: Budget | None) -> None:
        self._budget = budget
        self._token: contextvars.Token[Budget | None] | None = None

    def __enter__(self) -> Budget | None:
        outer = _CURRENT.get()
        if outer is not None or self._budget is None:
            return outer
        self._token = _CURRENT.set(self._budget)
        return self._budget

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


def next_pause(
    policy: RetryPolicy,
    attempt: int,
    time_left: float | None,
    budget: Budget | None = None,
) -> float | None:
    """The pause before another try, after try ``attempt`` (1 for the first) failed with a fault;
    None when there is to be no other try (:func:`decide` says why)."""
    return decide(policy, attempt, time_left, budget)[0]


def decide(
    policy: RetryPolicy,
    attempt: int,
    time_left: float | None,
    budget: Budget | None = None,
) -> tuple[float | None, str]:
    """:func:`next_pause`, and why there is no other try ("" when there is one) - for the logs.

    No other try when the policy's ``attempts`` are used up, when the deadline leaves no time for
    the pause and a try after it (``time_left``, None: no deadline), or when the budget - the one
    given, else the one open in this context - has no retry left. The budget is spent only for a
    retry that will happen.
    """
    if attempt >= policy.attempts:
        return None, f"all {policy.attempts} tries are used"
    pause = policy.pause(attempt)
    if time_left is not None and time_left <= pause:
        return None, "the deadline leaves no time for another try"
    budget = budget if budget is not None else _CURRENT.get()
    if budget is not None and not budget.take():
        return None, "the retry budget is spent"
    return pause, ""


def in_force(fallback: Budget | None) -> Budget | None:
    """The budget open in this context (a lookup's), else ``fallback``: for an operation that
    keeps its own budget - a Directory search over many pages - unless one is open around it."""
    current = _CURRENT.get()
    return current if current is not None else fallback
