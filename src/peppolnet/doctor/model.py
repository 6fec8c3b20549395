"""What ``doctor`` finds: one :class:`Finding` per check, and the :class:`Diagnosis` of them all."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from peppolnet.i18n import _, render
from peppolnet.reachability import CheckStatus

__all__ = ["Diagnosis", "Finding"]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One check of the machine or its configuration, as it affects lookups.

    ``name`` is stable and machine-readable (``resolver-naptr``); ``subject`` names what was
    checked (a nameserver, a zone, a URL); ``message`` says what was found and, when the check
    did not pass, ``fix`` says what to do. Both are :class:`~peppolnet.i18n.Message` values:
    English as ``str``, Swedish with :meth:`text`.
    """

    name: str
    status: CheckStatus
    message: str
    fix: str | None = None
    subject: str = ""

    def text(self, language: str | None = None) -> str:
        """The finding in ``language`` (``"sv"`` or ``"en"``)."""
        return render(self.message, language)

    def fix_text(self, language: str | None = None) -> str | None:
        """What to do, in ``language``; None when there is nothing to do."""
        return None if self.fix is None else render(self.fix, language)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "status", "subject", "message", "fix"}``, the sentences in English."""
        return {
            "name": self.name,
            "status": self.status.value,
            "subject": self.subject,
            "message": str(self.message),
            "fix": None if self.fix is None else str(self.fix),
        }


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """Every finding for one network, in the order the checks ran, and when they ran."""

    network: str
    zone: str
    findings: tuple[Finding, ...]
    at: datetime

    @property
    def ok(self) -> bool:
        """No check failed (warnings may remain)."""
        return not any(f.status is CheckStatus.FAIL for f in self.findings)

    @property
    def failed(self) -> tuple[Finding, ...]:
        """The findings that failed."""
        return tuple(f for f in self.findings if f.status is CheckStatus.FAIL)

    def finding(self, name: str) -> Finding | None:
        """The first finding of the check ``name``, if it ran."""
        return next((f for f in self.findings if f.name == name), None)

    def summary(self, language: str | None = None) -> str:
        """One sentence: whether lookups from this machine can be trusted, in ``language``."""
        failed = len(self.failed)
        if not failed:
            return render(_("no problem found that affects lookups"), language)
        if failed == 1:
            return render(_("1 problem found that affects lookups"), language)
        return render(_("{count} problems found that affect lookups", count=failed), language)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys (sentences in English)."""
        return {
            "network": self.network,
            "zone": self.zone,
            "ok": self.ok,
            "at": self.at.isoformat(),
            "checks": [f.to_json() for f in self.findings],
        }
