"""The trace of one lookup: every step in order, as plain data (see :mod:`peppolnet.trace`)."""

from __future__ import annotations

import dataclasses
import html
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from peppolnet.reachability import Check, CheckStatus, Reachability

__all__ = ["STEP_NAMES", "NetworkStep", "Trace", "TraceStep", "numbered"]

#: Every step name a trace can hold, in the order the steps come (``http`` once per request,
#: ``smp-host`` and ``tls`` once per new connection; ``dnssec`` where a validator reports;
#: ``crl`` once per revocation list used, before the SMP's certificate and again before the
#: access point's; ``network`` only in a trace across networks, ``--network auto``).
STEP_NAMES: Final = (
    "network",
    "identifier",
    "sml-name",
    "dns",
    "dnssec",
    "smp-url",
    "smp-host",
    "tls",
    "http",
    "service-group",
    "service-metadata",
    "signature",
    "crl",
    "smp-certificate",
    "endpoint",
    "ap-certificate",
    "verdict",
)

_SYMBOL: Final = {
    CheckStatus.PASS: "✓",
    CheckStatus.WARN: "!",
    CheckStatus.FAIL: "✗",
    CheckStatus.SKIPPED: "-",
}


@dataclasses.dataclass(frozen=True)
class TraceStep:
    """One step of a lookup as it happened.

    ``name`` is one of :data:`STEP_NAMES` (stable, machine-readable); ``status`` how it went;
    ``message`` one sentence - what was seen, or for a failed step the sentence of the fault that
    stopped the lookup; ``elapsed`` the seconds it took (None for a step without I/O of its
    own); ``retryable`` whether a failure may go away by itself; ``details`` the facts, as plain
    JSON-ready values under stable keys (docs/trace.md lists them); ``checks`` the lookup's
    checks that belong to this step.
    """

    name: str
    status: CheckStatus
    message: str
    elapsed: float | None = None
    retryable: bool = False
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    checks: tuple[Check, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"name", "status", "message", "elapsed_ms", "retryable", "details", "checks"}``."""
        return {
            "name": self.name,
            "status": self.status.value,
            "message": str(self.message),
            "elapsed_ms": None if self.elapsed is None else round(self.elapsed * 1000, 2),
            "retryable": self.retryable,
            "details": dict(self.details),
            "checks": [check.to_json() for check in self.checks],
        }

    def __str__(self) -> str:
        return f"{_SYMBOL[self.status]} {self.name}: {self.message}"


def numbered(steps: Sequence[TraceStep]) -> list[dict[str, Any]]:
    """``steps`` as JSON, each with its ``number`` (from 1): a trace's ``steps`` key."""
    return [{"number": number, **step.to_json()} for number, step in enumerate(steps, start=1)]


@dataclasses.dataclass(frozen=True)
class NetworkStep(TraceStep):
    """The ``network`` step of a trace across networks (``--network auto``).

    ``others`` are the traces of the networks asked that did not answer, in the order asked:
    a support person asking "why did production say no?" reads its steps here rather than
    tracing production again. Their steps are also in ``details["asked"]`` (each entry but the
    answering network's has ``steps``, the same JSON as a trace's ``steps``); ``others`` keeps
    them as steps, for text in either language (:mod:`peppolnet.trace.render`).
    """

    others: tuple[Trace, ...] = ()


class Trace:
    """Every step of one lookup in order, and its result (:meth:`peppolnet.lookup.Lookup.trace`).

    ``steps`` end with the step that failed, if one did, and then the ``verdict`` step;
    ``reachability`` is the lookup's own result, the value
    :meth:`~peppolnet.lookup.Lookup.check` returns. ``to_json()`` is one JSON object with
    stable keys; ``str()`` a numbered list; in a notebook the trace renders as a table.

    A value (immutable, compared by its steps and result). A trace made by a lookup writes its
    steps' sentences and facts when ``steps`` is first read, not while the lookup runs: that
    work is most of what a trace adds to a lookup, and a caller that only wants the
    ``reachability`` (or prints the trace once) should not pay for it twice or at all
    (issue 16: a trace costs at most 1.2x the plain lookup's CPU). What the steps are made of
    was recorded during the lookup, the verdict step's time included, so the steps are the
    same whenever they are read.
    """

    __slots__ = ("_build", "_lock", "_steps", "reachability")

    reachability: Reachability
    _steps: tuple[TraceStep, ...] | None
    _build: Callable[[], Sequence[TraceStep]] | None
    _lock: threading.Lock | None

    def __init__(self, steps: Sequence[TraceStep], reachability: Reachability) -> None:
        object.__setattr__(self, "_steps", tuple(steps))
        object.__setattr__(self, "_build", None)
        object.__setattr__(self, "_lock", None)
        object.__setattr__(self, "reachability", reachability)

    @classmethod
    def recorded(
        cls, build: Callable[[], Sequence[TraceStep]], reachability: Reachability
    ) -> Trace:
        """A trace whose steps ``build`` writes when they are first read (called once)."""
        trace = cls((), reachability)
        object.__setattr__(trace, "_steps", None)
        object.__setattr__(trace, "_build", build)
        object.__setattr__(trace, "_lock", threading.Lock())
        return trace

    @property
    def steps(self) -> tuple[TraceStep, ...]:
        """Every step in order (written on first reading for a trace a lookup made)."""
        steps = self._steps
        if steps is None:
            assert self._lock is not None
            with self._lock:  # threads reading one trace write its steps once
                steps = self._steps
                if steps is None:
                    assert self._build is not None
                    steps = tuple(self._build())
                    object.__setattr__(self, "_steps", steps)
                    object.__setattr__(self, "_build", None)  # what it read may go now
        return steps

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (self.steps, self.reachability) == (other.steps, other.reachability)

    def __hash__(self) -> int:
        return hash((self.steps, self.reachability))

    def __repr__(self) -> str:
        return f"Trace(steps={self.steps!r}, reachability={self.reachability!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Trace, (self.steps, self.reachability))

    @property
    def failed(self) -> TraceStep | None:
        """The step that stopped the lookup (None when none failed before the verdict)."""
        return next(
            (s for s in self.steps if s.status is CheckStatus.FAIL and s.name != "verdict"), None
        )

    def step(self, name: str) -> TraceStep | None:
        """The first step called ``name``, if the trace got there."""
        return next((s for s in self.steps if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready object: who, the verdict, the failed step and every step in order."""
        result = self.reachability
        failed = self.failed
        return {
            "query": result.query,
            "participant_id": str(result.participant) if result.participant else None,
            "document_type": result.document_type.uri,
            "network": result.network,
            "verdict": result.verdict.value,
            "reason": result.reason,
            "retryable": result.retryable,
            "failed_step": failed.name if failed is not None else None,
            "steps": numbered(self.steps),
            "reachability": result.to_json(),
        }

    def __str__(self) -> str:
        from peppolnet.trace.render import lines

        return "\n".join(lines(self))

    def _repr_html_(self) -> str:
        """A table for notebooks: number, status, step, sentence and time (in a trace across
        networks, each other network asked under the ``network`` step, numbered ``1.n``)."""
        esc = html.escape
        result = self.reachability
        who = esc(str(result.participant or result.query))
        return (
            f"<div><strong>{who}</strong>: <code>{esc(result.verdict.value)}</code>"
            "<table><thead><tr><th>#</th><th></th><th>step</th><th>what happened</th>"
            f"<th>time</th></tr></thead><tbody>{_html_rows(self.steps)}</tbody></table></div>"
        )


def _html_rows(steps: Sequence[TraceStep], prefix: str = "") -> str:
    esc = html.escape
    rows = []
    for number, s in enumerate(steps, start=1):
        rows.append(
            f"<tr><td>{prefix}{number}</td><td>{_SYMBOL[s.status]}</td><td>{esc(s.name)}</td>"
            f"<td>{esc(str(s.message))}</td>"
            f"<td>{'' if s.elapsed is None else f'{s.elapsed * 1000:.1f} ms'}</td></tr>"
        )
        if isinstance(s, NetworkStep):
            from peppolnet.trace.render import other_network

            for other in s.others:
                heading = esc(str(other_network(other.reachability)))
                rows.append(f'<tr><td></td><td colspan="4"><em>{heading}</em></td></tr>')
                rows.append(_html_rows(other.steps, f"{prefix}{number}."))
    return "".join(rows)
