"""The Directory search query: every parameter of Peppol Directory REST API documentation, checked
before anything is sent.

Checking locally is kinder to the public service (a query it would reject with HTTP 400 never
costs a request against the 2 requests/second budget) and gives a sentence naming the field.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, TypedDict, Unpack

from peppolnet.directory.model import MAX_RESULTS
from peppolnet.errors import DirectoryQueryError, InvalidIdentifier, InvalidInput
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.schemes import country_of

__all__ = ["MIN_PARTIAL_LENGTH", "PARTIAL_FIELDS", "SearchQuery", "check_page"]

#: Partial-match fields need at least this many characters (else the Directory answers 400).
MIN_PARTIAL_LENGTH: Final = 3
#: Python argument name -> Directory parameter name, for the partial-match fields.
PARTIAL_FIELDS: Final = {
    "name": "name",
    "geoinfo": "geoinfo",
    "website": "website",
    "contact": "contact",
    "addinfo": "addinfo",
}


def _partial(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) < MIN_PARTIAL_LENGTH:
        raise DirectoryQueryError(
            _(
                "the Directory needs at least {minimum} characters for '{field}', got {value}",
                minimum=MIN_PARTIAL_LENGTH,
                field=field,
                value=repr(value),
            )
        )
    return text


def check_page(page: int, page_size: int) -> None:
    """Refuse paging the Directory would refuse: negative, empty, or beyond the 1000 cap."""
    if page < 0:
        raise DirectoryQueryError(_("the page index must be 0 or more, got {page}", page=page))
    if page_size < 1:
        raise DirectoryQueryError(
            _("the page size must be 1 or more, got {page_size}", page_size=page_size)
        )
    last = (page + 1) * page_size - 1
    if last > MAX_RESULTS:
        raise DirectoryQueryError(
            _(
                "page {page} of size {page_size} ends at result {last}; the Directory serves "
                "results up to index {limit} only - narrow the query instead",
                page=page,
                page_size=page_size,
                last=last,
                limit=MAX_RESULTS,
            )
        )


class SearchFields(TypedDict, total=False):
    """The Directory's search fields (Peppol Directory REST API documentation), all optional and
    AND-combined.

    ``name``, ``geoinfo``, ``website``, ``contact`` and ``addinfo`` match partially (at least 3
    characters); ``country``, ``participant``, ``doctype``, ``identifier_scheme``/``_value`` and
    ``regdate`` (``YYYY-MM-DD``) match exactly.
    """

    name: str | None
    country: str | None
    participant: ParticipantId | str | None
    doctype: DocumentTypeId | str | None
    geoinfo: str | None
    identifier_scheme: str | None
    identifier_value: str | None
    website: str | None
    contact: str | None
    addinfo: str | None
    regdate: date | str | None


def _unknown_fields(unknown: set[str]) -> DirectoryQueryError:
    """The error for misspelt fields, with the field each was probably meant to be
    (``document_type`` -> ``doctype``, the Directory's own name, which the lookups spell out)."""
    known = list(SearchFields.__annotations__)
    guesses = [
        _("{field} (did you mean {guess}?)", field=field, guess=close[0])
        if (close := difflib.get_close_matches(field, known, n=1))
        else field
        for field in sorted(unknown)
    ]
    # a message all the way, so that each part is shown in the reader's language
    listed = guesses[-1]
    for guess in reversed(guesses[:-1]):
        listed = _("{first}, {rest}", first=guess, rest=listed)
    return DirectoryQueryError(_("unknown search field(s): {listed}", listed=listed))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search; build it with :meth:`build`, send :meth:`params`."""

    q: tuple[str, ...] = ()
    name: str | None = None
    country: str | None = None
    participant: ParticipantId | None = None
    doctype: DocumentTypeId | None = None
    geoinfo: str | None = None
    identifier_scheme: str | None = None
    identifier_value: str | None = None
    website: str | None = None
    contact: str | None = None
    addinfo: str | None = None
    regdate: date | None = None

    @classmethod
    def build(
        cls, q: str | Sequence[str] | None = None, **fields: Unpack[SearchFields]
    ) -> SearchQuery:
        """Check every field; raise :class:`~peppolnet.errors.DirectoryQueryError` naming it."""
        unknown = set(fields) - set(SearchFields.__annotations__)
        if unknown:
            raise _unknown_fields(unknown)
        name, country = fields.get("name"), fields.get("country")
        participant, doctype = fields.get("participant"), fields.get("doctype")
        geoinfo, website = fields.get("geoinfo"), fields.get("website")
        contact, addinfo = fields.get("contact"), fields.get("addinfo")
        identifier_scheme = fields.get("identifier_scheme")
        identifier_value = fields.get("identifier_value")
        regdate = fields.get("regdate")
        terms = (q,) if isinstance(q, str) else tuple(q or ())
        terms = tuple(t.strip() for t in terms)
        if any(not t for t in terms):
            raise DirectoryQueryError(_("the generic query 'q' must not be empty"))
        if country is not None:
            try:
                country = country_of(country)
            except InvalidInput as exc:
                raise DirectoryQueryError(exc.message) from None
        pid: ParticipantId | None
        try:
            pid = ParticipantId.parse(participant) if isinstance(participant, str) else participant
        except InvalidIdentifier as exc:
            raise DirectoryQueryError(
                _("the participant to search for is not valid: {error}", error=exc)
            ) from None
        doc: DocumentTypeId | None = None
        try:
            if isinstance(doctype, str):  # an alias ("invoice") as a lookup takes it, or an id
                from peppolnet.lookup import resolve_document_type

                doc = resolve_document_type(doctype)
            else:
                doc = doctype
        except InvalidIdentifier as exc:
            raise DirectoryQueryError(
                _("the document type to search for is not valid: {error}", error=exc)
            ) from None
        for label, exact in (
            ("identifierScheme", identifier_scheme),
            ("identifierValue", identifier_value),
        ):
            if exact is not None and not exact.strip():
                raise DirectoryQueryError(_("'{label}' must not be empty", label=label))
        reg: date | None
        if isinstance(regdate, str):
            try:
                reg = date.fromisoformat(regdate.strip())
            except ValueError:
                raise DirectoryQueryError(
                    _(
                        "the registration date must be YYYY-MM-DD, got {regdate}",
                        regdate=repr(regdate),
                    )
                ) from None
        else:
            reg = regdate
        query = cls(
            q=terms,
            name=_partial("name", name),
            country=country,
            participant=pid,
            doctype=doc,
            geoinfo=_partial("geoinfo", geoinfo),
            identifier_scheme=identifier_scheme.strip() if identifier_scheme else None,
            identifier_value=identifier_value.strip() if identifier_value else None,
            website=_partial("website", website),
            contact=_partial("contact", contact),
            addinfo=_partial("addinfo", addinfo),
            regdate=reg,
        )
        if not query.fields():
            raise DirectoryQueryError(
                _("give at least one search field (text, name, country, participant, doctype, ...)")
            )
        return query

    def fields(self) -> list[tuple[str, str]]:
        """The query fields as Directory parameters, in the Directory's own field order."""
        out = [("q", t) for t in self.q]
        if self.participant is not None:
            out.append(("participant", self.participant.uri))
        if self.name is not None:
            out.append(("name", self.name))
        if self.country is not None:
            out.append(("country", self.country))
        if self.geoinfo is not None:
            out.append(("geoinfo", self.geoinfo))
        if self.identifier_scheme is not None:
            out.append(("identifierScheme", self.identifier_scheme))
        if self.identifier_value is not None:
            out.append(("identifierValue", self.identifier_value))
        for key in ("website", "contact", "addinfo"):
            value = getattr(self, key)
            if value is not None:
                out.append((key, value))
        if self.regdate is not None:
            out.append(("regdate", self.regdate.isoformat()))
        if self.doctype is not None:
            out.append(("doctype", self.doctype.uri))
        return out

    def params(self, page: int = 0, page_size: int = 20) -> list[tuple[str, str]]:
        """Query-string pairs for one page (checked against the 1000-result cap)."""
        check_page(page, page_size)
        return [
            *self.fields(),
            ("resultPageIndex", str(page)),
            ("resultPageCount", str(page_size)),
        ]
