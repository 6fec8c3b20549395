"""Machine values as people read them: what a table cell shows for a code list state, a kind
of change or a yes/no, in the command's language.

``--json`` keeps the machine values (``active``, ``changed-operator``); the English labels are
those same values, so English output reads as it always has and scripts that grep it keep
working, while Swedish output says "aktiv" and "bytte operatör". Several commands show the
same values, so their labels are made once, here.
"""

from __future__ import annotations

from peppolnet.i18n import Message, _

__all__ = ["change_kind", "scheme_state", "yes_no"]

_SCHEME_STATES = {"active": _("active"), "deprecated": _("deprecated"), "removed": _("removed")}

_CHANGE_KINDS = {
    "became-reachable": _("became-reachable"),
    "stopped-being-reachable": _("stopped-being-reachable"),
    "changed-operator": _("changed-operator"),
    "changed-smp": _("changed-smp"),
}


def scheme_state(state: object) -> str:
    """A code list state (``active``, ``deprecated``, ``removed``) for people."""
    return _SCHEME_STATES.get(str(state), str(state))


def change_kind(kind: str) -> str:
    """A kind of change of the recipient directory (``changed-operator``...) for people."""
    return _CHANGE_KINDS.get(kind, kind)


def yes_no(flag: bool | None) -> Message:
    """``yes``, ``no``, or ``unknown`` for None (a lookup that could not tell)."""
    if flag is None:
        return _("unknown")
    return _("yes") if flag else _("no")
