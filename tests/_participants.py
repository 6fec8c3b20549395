"""Participants of a sandbox network picked by what they are, for the trace tests."""

from __future__ import annotations

from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox import Sandbox


def _peppol_smp_1(sandbox: Sandbox, operator: str) -> bool:
    return sandbox.config.smp(sandbox.config.operator(operator).smp).dialect == "peppol-smp-1"


def plain(sandbox: Sandbox) -> ParticipantId:
    """A participant without quirks, registered, on a Peppol SMP 1 server: it can receive."""
    return next(
        p.id
        for p in sandbox.config.participants
        if p.in_sml and not p.quirks and _peppol_smp_1(sandbox, p.operator)
    )


def quirky(sandbox: Sandbox, quirk: str) -> ParticipantId:
    """A participant with ``quirk``, on a Peppol SMP 1 server."""
    return next(
        p.id
        for p in sandbox.config.participants
        if quirk in p.quirks and _peppol_smp_1(sandbox, p.operator)
    )
