"""From what the recorder wrote down to the steps of a :class:`~peppolnet.trace.Trace`.

The recorded events are cut into *phases*, one per request the lookup made (the SML question,
the ServiceGroup, the ServiceMetadata, a revocation question, a pause), each with the I/O done
for it. The lookup's own checks are shared out among the steps they belong to (``https`` to the
SMP URL, ``signature`` to the signature, ...). Then the steps are made in the order of the issue:
identifier, SML name, DNS, SMP URL, per HTTP request the SMP host, TLS and HTTP, service group,
ServiceMetadata, signature, SMP certificate, endpoint, access point certificate - and the list
is cut after the first step that failed, whose sentence becomes the fault's (the verdict's
reason), before the verdict step ends it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from peppolnet import lookup
from peppolnet.errors import NoSmpService
from peppolnet.i18n import _
from peppolnet.reachability import Check, CheckStatus, Reachability, Verdict
from peppolnet.sml import SmlAnswer
from peppolnet.trace.model import Trace, TraceStep
from peppolnet.trace.recorder import Answered, Asked, Event

if TYPE_CHECKING:
    from peppolnet.lookup import _Request
    from peppolnet.trace.recorder import TraceRecorder

__all__ = ["Phase", "build", "kind_of", "phases", "said", "shared_out", "worst"]

# The step each of the lookup's checks belongs to ("sml", "destination" and "deadline" depend
# on where the lookup was: see _step_of).
_STEP_OF_CHECK: Final[Mapping[str, str]] = {
    "identifier": "identifier",
    "dnssec": "dnssec",
    "https": "smp-url",
    "service-group": "service-group",
    "service-metadata": "service-metadata",
    "redirect": "service-metadata",
    "identifier-echo": "service-metadata",
    "signature": "signature",
    "smp-certificate": "smp-certificate",
    "smp-certificate-g2": "smp-certificate",
    "smp-revocation": "smp-certificate",
    "process": "endpoint",
    "transport-profile": "endpoint",
    "endpoint-validity": "endpoint",
    "endpoint-url": "endpoint",
    "ap-certificate": "ap-certificate",
    "ap-certificate-g2": "ap-certificate",
    "revocation": "ap-certificate",
}
# The lookup's names for where its deadline passed (lookup._DOING) as steps.
_STEP_OF_DEADLINE: Final[Mapping[str, str]] = {
    "dns": "dns",
    "service-group": "service-group",
    "service-metadata": "service-metadata",
    "smp-revocation": "smp-certificate",
    "revocation": "ap-certificate",
}
_ORDER: Final = {CheckStatus.SKIPPED: 0, CheckStatus.PASS: 1, CheckStatus.WARN: 2}


def kind_of(request: object) -> str:
    """What a request of the lookup is for: ``dns``, ``service-group``, ``service-metadata``,
    ``revocation``, ``pause`` or ``other``."""
    return _KINDS.get(type(request), "other")


_KINDS: Final[Mapping[type, str]] = {
    lookup._Resolve: "dns",
    lookup._ServiceGroup: "service-group",
    lookup._Metadata: "service-metadata",
    lookup._Revocation: "revocation",
    lookup._Pause: "pause",
}


@dataclasses.dataclass
class Phase:
    """One request of the lookup (``kind``: see :func:`kind_of`), the I/O done for it, and
    what it brought."""

    asked: Asked
    answered: Answered | None = None
    events: list[Event] = dataclasses.field(default_factory=list)
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = kind_of(self.asked.request)

    @property
    def request(self) -> _Request:
        return self.asked.request

    @property
    def failed(self) -> bool:
        """The request brought an error (or none at all: it was cut off)."""
        return self.answered is None or isinstance(self.answered.outcome, BaseException)

    @property
    def elapsed(self) -> float | None:
        return None if self.answered is None else self.answered.at - self.asked.at


def phases(events: Sequence[Event]) -> list[Phase]:
    """The recorded events cut into one phase per request of the lookup."""
    found: list[Phase] = []
    for event in events:
        if isinstance(event, Asked):
            found.append(Phase(event))
        elif isinstance(event, Answered):
            if found and found[-1].request is event.request:
                found[-1].answered = event
        elif found:
            found[-1].events.append(event)
    return found


def worst(checks: Sequence[Check], default: CheckStatus = CheckStatus.PASS) -> CheckStatus:
    """The status of a step made of ``checks``: the worst of theirs (``default`` without)."""
    if not checks:
        return default
    found = CheckStatus.SKIPPED
    for check in checks:
        status = check.status
        if status is CheckStatus.FAIL:
            return status
        if _ORDER[status] > _ORDER[found]:
            found = status
    return found


def said(status: CheckStatus, checks: Sequence[Check], default: str) -> str:
    """A step's sentence: the sentence of its check that warned or failed, else ``default``
    (what the step saw)."""
    if status in (CheckStatus.WARN, CheckStatus.FAIL):
        found = next((c for c in checks if c.status is status), None)
        if found is not None:
            return found.message
    return default


def _step_of(check: Check, recorder: TraceRecorder, kinds: Sequence[str], registered: bool) -> str:
    """The step ``check`` belongs to; ``kinds`` are the lookup's requests by kind, and
    ``registered`` whether the SML had a record (usable or not) for the participant."""
    found = _STEP_OF_CHECK.get(check.name)
    if found is not None:
        return found
    if check.name == "sml":
        # a record found (its URL, or why that URL is unusable) is the SMP URL's step
        return "smp-url" if registered else "dns"
    if check.name == "destination":
        fetched = [k for k in kinds if k in ("service-group", "service-metadata")]
        return fetched[-1] if fetched else "smp-url"
    if check.name == "deadline":
        return _STEP_OF_DEADLINE.get(recorder.ctx.stopped_in or "", "verdict")
    return "verdict"


def shared_out(
    recorder: TraceRecorder, cut: Sequence[Phase], result: Reachability
) -> dict[str, list[Check]]:
    """The lookup's checks by the step they belong to (``cut``: the lookup's phases)."""
    kinds = [p.kind for p in cut]
    answers = [p.answered.outcome for p in cut if p.kind == "dns" and p.answered]
    registered = bool(answers) and isinstance(answers[-1], SmlAnswer | NoSmpService)
    by_step: dict[str, list[Check]] = {}
    for check in result.checks:
        by_step.setdefault(_step_of(check, recorder, kinds, registered), []).append(check)
    return by_step


def build(recorder: TraceRecorder, result: Reachability) -> Trace:
    """The trace of ``result``'s lookup, from what ``recorder`` wrote down: its steps are
    written when first read (:class:`Trace`), with the time the lookup ended taken now."""
    ended = time.perf_counter()
    return Trace.recorded(lambda: _steps(recorder, result, ended), result)


def _steps(recorder: TraceRecorder, result: Reachability, ended: float) -> list[TraceStep]:
    """The trace's steps: the lookup's, up to the one it stopped at, and the verdict."""
    from peppolnet.trace.steps_dns import sml_steps
    from peppolnet.trace.steps_smp import smp_steps

    cut = phases(recorder.events)
    checks = shared_out(recorder, cut, result)
    steps = [*sml_steps(recorder, cut, checks, result), *smp_steps(recorder, cut, checks, result)]
    kept: list[TraceStep] = []
    reason = result.reason
    stopped = result.verdict is not Verdict.CAN_RECEIVE
    for step in steps:
        if stopped and step.status is CheckStatus.FAIL:
            # the step the lookup stopped at, with the fault's sentence (the verdict's reason)
            kept.append(dataclasses.replace(step, message=reason, retryable=result.retryable))
            break
        kept.append(step)
    kept.append(_verdict(recorder, result, reason, checks.get("verdict", []), ended))
    return kept


def _verdict(
    recorder: TraceRecorder, result: Reachability, reason: str, checks: list[Check], ended: float
) -> TraceStep:
    ok = result.verdict is Verdict.CAN_RECEIVE
    return TraceStep(
        "verdict",
        CheckStatus.PASS if ok else CheckStatus.FAIL,
        reason or _("the lookup ended without a reason"),
        elapsed=ended - recorder.started,
        retryable=result.retryable,
        details={"verdict": result.verdict.value, "signed": result.signed},
        checks=tuple(checks),
    )
