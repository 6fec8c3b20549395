"""Values of the Peppol Directory search: one match per participant, one page per request.

The Directory indexes *business entities* (one per entity of a business card) and groups the hits
of a page by participant, so a page's counters (``total``, ``used``, indices) count entities, not
matches (Peppol Directory REST API documentation). The Directory is opt-in and may be stale - it is
not authoritative for
reachability - so every match carries ``confirmed``: None until a lookup has checked it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from peppolnet.businesscard import BusinessEntity
from peppolnet.identifiers import DocumentTypeId, ParticipantId

__all__ = ["MAX_RESULTS", "DirectoryMatch", "SearchPage"]

#: The Directory refuses any page whose first or last result index is beyond this (HTTP 400).
MAX_RESULTS: Final = 1000


@dataclass(frozen=True, slots=True)
class DirectoryMatch:
    """One participant found in the Directory, with the entities of it that matched.

    ``confirmed`` is True/False once an authoritative lookup (SML + SMP) has checked the
    participant, and None when nobody checked.
    """

    participant: ParticipantId
    document_types: tuple[DocumentTypeId, ...] = ()
    entities: tuple[BusinessEntity, ...] = ()
    confirmed: bool | None = None

    @property
    def name(self) -> str | None:
        """The first name of the first entity - what a person would call this participant."""
        for entity in self.entities:
            if entity.name:
                return entity.name
        return None

    @property
    def country(self) -> str | None:
        """The country code of the first entity."""
        return self.entities[0].country if self.entities else None

    def merged(self, other: DirectoryMatch) -> DirectoryMatch:
        """This match with the entities/document types of ``other`` (same participant) added.

        Pages cut through the entity list, so one participant can end one page and start the
        next; iteration joins the two halves back into one match.
        """
        doctypes = self.document_types + tuple(
            d for d in other.document_types if d not in self.document_types
        )
        entities = self.entities + tuple(e for e in other.entities if e not in self.entities)
        return replace(self, document_types=doctypes, entities=entities)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results with the Directory's own counters.

    ``truncated`` is True when more entities matched than the Directory lets anyone page through
    (``total`` > :data:`MAX_RESULTS`): narrow the query to see the rest.
    """

    matches: tuple[DirectoryMatch, ...]
    total: int
    used: int
    page_index: int
    page_count: int
    first_index: int
    last_index: int
    truncated: bool
    query_terms: str = ""
    created: datetime | None = None
