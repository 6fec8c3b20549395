"""The values a Directory export is read into: cards, participants, the header, the problems.

Records are plain frozen values, built for speed as much as for reading: a reader makes a
million of them in a few seconds, so a card keeps its participant identifier as the two strings
the export gave (building a :class:`~peppolnet.identifiers.ParticipantId` costs more than the
rest of the card; :attr:`ExportCard.participant` makes one on demand) and its document types are
shared values, one per distinct type in the file.

A reader never drops a part of an export silently: what it could not read becomes an
:class:`ExportProblem` (which card or row, what was wrong), next to every record it could read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from peppolnet.businesscard import BusinessEntity
from peppolnet.i18n import _
from peppolnet.identifiers import PARTICIPANT_SCHEME, ParticipantId, ascii_lower, lower

__all__ = [
    "ExportCard",
    "ExportDocumentType",
    "ExportHeader",
    "ExportParticipant",
    "ExportProblem",
    "ended_early",
    "participant_key",
    "record_place",
]


def participant_key(scheme: str, value: str) -> str:
    """The participant as compared (POLICY 2 of the Peppol identifier policy): ``scheme::value``
    with the value lower-cased in the ``iso6523-actorid-upis`` scheme, as given in any other."""
    if ascii_lower(scheme) == PARTICIPANT_SCHEME:
        return f"{PARTICIPANT_SCHEME}::{lower(value)}"
    return f"{scheme}::{value}"


@dataclass(frozen=True, slots=True)
class ExportDocumentType:
    """A document type a participant accepts, as the export lists it.

    ``display_name`` and ``state`` are the Directory's own reading of the code list (XML v3 and
    JSON v2 give the state - ``active``, ``deprecated``, ``removed``; XML v2 and JSON v1 only say
    whether it is deprecated); ``non_standard`` when the Directory found it in no code list.
    """

    scheme: str
    value: str
    display_name: str | None = None
    state: str | None = None
    non_standard: bool = False

    @property
    def uri(self) -> str:
        """``scheme::value``, the identifier's URI form."""
        return f"{self.scheme}::{self.value}"


class _Identified:
    """What every record says about its participant (its two fields are the subclass's)."""

    __slots__ = ()
    participant_scheme: str
    participant_value: str

    @property
    def participant_uri(self) -> str:
        """``iso6523-actorid-upis::0007:5567321707`` as the export gave it."""
        return f"{self.participant_scheme}::{self.participant_value}"

    @property
    def key(self) -> str:
        """The participant as compared between exports (see :func:`participant_key`)."""
        return participant_key(self.participant_scheme, self.participant_value)

    @property
    def participant(self) -> ParticipantId:
        """The identifier as a value (lax, as real exports need); raises
        :class:`~peppolnet.errors.InvalidParticipantId` for one even lax parsing refuses."""
        return ParticipantId(self.participant_scheme, self.participant_value, lax=True)


@dataclass(frozen=True, slots=True)
class ExportCard(_Identified):
    """One participant's business card in the export: its entities and document types.

    ``participant_scheme`` and ``participant_value`` are as the export wrote them (trimmed);
    real exports hold identifiers no strict parser accepts, so none is parsed here.
    """

    participant_scheme: str
    participant_value: str
    entities: tuple[BusinessEntity, ...]
    document_types: tuple[ExportDocumentType, ...] = ()

    @property
    def name(self) -> str | None:
        """The first name of the first entity that has one."""
        for entity in self.entities:
            if entity.names:
                return entity.names[0].name
        return None

    @property
    def country(self) -> str | None:
        """The country code of the first entity."""
        return self.entities[0].country if self.entities else None

    @property
    def registration_date(self) -> date | None:
        """The earliest registration date of its entities (when it joined the Directory)."""
        dates = [e.registration_date for e in self.entities if e.registration_date is not None]
        return min(dates) if dates else None


@dataclass(frozen=True, slots=True)
class ExportParticipant(_Identified):
    """One identifier of a participants-only export."""

    participant_scheme: str
    participant_value: str


#: What an export file holds.
CARDS: Final = "cards"
PARTICIPANTS: Final = "participants"


@dataclass(frozen=True, slots=True)
class ExportHeader:
    """What the file says about itself: ``format`` (xml, json, csv), ``content`` (cards or
    participants), the format ``version``, when the Directory ``created`` it, the code list
    release it judged document types by, and how many participants it declares (JSON and the
    participants XML count them; a reader checks the count against what it read)."""

    format: str
    content: str
    version: str | None = None
    created: datetime | None = None
    code_list: str | None = None
    declared_count: int | None = None


@dataclass(frozen=True, slots=True)
class ExportProblem:
    """A part of an export that could not be read.

    ``kind``: ``xml``, ``json`` or ``csv`` (malformed there), ``encoding`` (bytes that are not
    the file's encoding), ``truncated`` (the file or its compression ends early), ``count``
    (fewer records than the file declares), ``record`` (well-formed, but not a card: no
    participant, an unreadable date) or ``size`` (a record too large to be a real one).
    ``where`` names the place (``card 1204``, ``row 17``, ``byte 1048576``); ``participant``
    is the card's identifier when it could still be seen. ``skipped`` is False for a problem
    that did not cost a record (a date left empty, a closing tag missing after the last card).
    """

    kind: str
    where: str
    message: str
    participant: str | None = None
    skipped: bool = True

    def __str__(self) -> str:
        who = f" ({self.participant})" if self.participant else ""
        return f"{self.where}{who}: {self.message}"


def record_place(content: str, number: int) -> str:
    """Where a record is, for a problem: ``card 12`` (cards) or ``entry 12`` (participants)."""
    if content == CARDS:
        return _("card {number}", number=number)
    return _("entry {number}", number=number)


def ended_early(count: int, message: str) -> ExportProblem:
    """The problem of a file that stops where its format says it may not (after ``count``
    records), without costing a record that was seen."""
    return ExportProblem(
        "truncated", _("after record {count}", count=count), message, skipped=False
    )
