"""The files of the Peppol Directory export: where each is served and what it holds.

The Directory publishes its whole content once a day (regenerated at 02:00 UTC) as seven files,
each behind a path of its own under ``/export/`` that redirects to a static copy (Peppol
Directory export documentation; the Directory's source, phoss-directory, names the paths):

* ``businesscards`` - every business card with its document types (XML, export format v3);
* ``businesscards-xml-no-doc-types`` - the same without document types;
* ``businesscards-json`` - the cards with document types as JSON;
* ``businesscards-csv`` - one row per business entity, ISO-8859-1, ``;`` between fields;
* ``participants-xml``, ``participants-json``, ``participants-csv`` - participant identifiers
  only.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["EXPORT_PATH", "ExportKind"]

#: Where the Directory serves its export files.
EXPORT_PATH: Final = "/export/"


class ExportKind(enum.Enum):
    """One file of the Directory export; the value is its path under ``/export/``."""

    BUSINESS_CARDS_XML = "businesscards"
    BUSINESS_CARDS_XML_NO_DOCTYPES = "businesscards-xml-no-doc-types"
    BUSINESS_CARDS_JSON = "businesscards-json"
    BUSINESS_CARDS_CSV = "businesscards-csv"
    PARTICIPANTS_XML = "participants-xml"
    PARTICIPANTS_JSON = "participants-json"
    PARTICIPANTS_CSV = "participants-csv"

    @property
    def path(self) -> str:
        """The path the Directory serves it at (``/export/businesscards``)."""
        return EXPORT_PATH + self.value

    @property
    def format(self) -> str:
        """``xml``, ``json`` or ``csv``."""
        if self.value.endswith("json"):
            return "json"
        if self.value.endswith("csv"):
            return "csv"
        return "xml"

    @property
    def cards(self) -> bool:
        """Whether it holds business cards (else only participant identifiers)."""
        return self.value.startswith("businesscards")

    @property
    def filename(self) -> str:
        """The file name a download is stored under (the Directory's own download names)."""
        stem = "business-cards" if self.cards else "participants"
        if self is ExportKind.BUSINESS_CARDS_XML_NO_DOCTYPES:
            stem = "business-cards-no-doc-types"
        return f"directory-export-{stem}.{self.format}"

    @classmethod
    def parse(cls, text: str) -> ExportKind:
        """A kind from its path name (``businesscards-json``) or enum name, any case."""
        wanted = text.strip().lower().removeprefix(EXPORT_PATH).strip("/")
        for kind in cls:
            if wanted in (kind.value, kind.name.lower()):
                return kind
        from peppolnet.errors import InvalidInput
        from peppolnet.i18n import _

        names = ", ".join(kind.value for kind in cls)
        raise InvalidInput(
            _(
                "{text} is not a Directory export file; choose one of: {names}",
                text=repr(text),
                names=names,
            )
        )
