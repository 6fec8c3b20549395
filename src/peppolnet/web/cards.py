"""A verdict as a card: the answer first, in the page's language, then the details.

Pure: a :class:`~peppolnet.reachability.Reachability` in, sentences and plain values out, so
the page and its tests agree on every word without a server. The headline says what support
staff need ("Kan ta emot Peppol BIS Billing 3.0-fakturor via Kvittra AB (PSE000102)"), the
advice what to tell the customer; an ``unknown`` names the step that failed and whether trying
again may help, and is never worded as a "no".
"""

from __future__ import annotations

import dataclasses
from typing import Final

from peppolnet.codelists import document_type_entry
from peppolnet.i18n import Language, Message, _, render
from peppolnet.identifiers import BIS_BILLING_CREDIT_NOTE, BIS_BILLING_INVOICE, DocumentTypeId
from peppolnet.reachability import CheckStatus, Reachability, Verdict

__all__ = ["Card", "DocumentRow", "card", "document_label"]

_INVOICES: Final = _("Peppol BIS Billing 3.0 invoices")
_CREDIT_NOTES: Final = _("Peppol BIS Billing 3.0 credit notes")


def document_label(document_type: DocumentTypeId) -> Message:
    """What a person calls the document type, in words ("Peppol BIS Billing 3.0 invoices")."""
    if document_type == BIS_BILLING_INVOICE:
        return _INVOICES
    if document_type == BIS_BILLING_CREDIT_NOTE:
        return _CREDIT_NOTES
    entry = document_type_entry(document_type)
    name = entry.name if entry else document_type.customization_id or document_type.value
    return _("documents of the type {name}", name=name)


@dataclasses.dataclass(frozen=True)
class DocumentRow:
    """One document type the SMP lists, with its code-list name and state."""

    identifier: str
    name: str | None
    state: Message | None


@dataclasses.dataclass(frozen=True)
class Card:
    """What the page shows for one candidate (all text already in the page's language)."""

    verdict: str
    headline: str
    advice: str
    reason: str
    failed_step: str | None
    retry_may_help: bool | None
    documents: tuple[DocumentRow, ...]


def card(result: Reachability, lang: Language) -> Card:
    """The card of ``result`` in ``lang``."""
    failed = next((c for c in result.checks if c.status is CheckStatus.FAIL), None)
    unknown = result.verdict is Verdict.UNKNOWN
    return Card(
        verdict=result.verdict.value,
        headline=render(_headline(result), lang),
        advice=render(_advice(result), lang),
        reason=result.explain(lang),
        failed_step=failed.name if unknown and failed else None,
        retry_may_help=result.retryable if unknown else None,
        documents=tuple(_document_rows(result)),
    )


def _operator(result: Reachability) -> str | None:
    operator = result.operator
    if operator is None:
        return None
    return f"{operator.name} ({operator.seat_id})" if operator.name else operator.seat_id


def _headline(result: Reachability) -> Message:
    documents = document_label(result.document_type)
    operator = _operator(result)
    if result.verdict is Verdict.CAN_RECEIVE:
        if operator:
            return _(
                "Can receive {documents} via {operator}", documents=documents, operator=operator
            )
        return _("Can receive {documents}", documents=documents)
    if result.verdict is Verdict.CANNOT_RECEIVE:
        return _("Registered in Peppol, but cannot receive {documents}", documents=documents)
    if result.verdict is Verdict.NOT_REGISTERED:
        return _("Not registered in Peppol")
    return _("Unknown: the network did not give a trustworthy answer")


def _advice(result: Reachability) -> Message:
    if result.verdict is Verdict.CAN_RECEIVE:
        return _("Tell the customer that e-invoices can be sent to them through Peppol.")
    if result.verdict is Verdict.CANNOT_RECEIVE:
        return _(
            "Tell the customer that their operator must add this document type, or send the "
            "invoice as PDF or on paper meanwhile."
        )
    if result.verdict is Verdict.NOT_REGISTERED:
        return _(
            "The customer can be added with an add-recipient request; meanwhile send the "
            "invoice as PDF or on paper."
        )
    if result.retryable:
        return _("This is not a no. Try again in a few minutes; the fault may pass by itself.")
    return _(
        "This is not a no. Trying again will probably give the same answer: ask the "
        "customer's operator, or your own technical staff, to look at the failed step."
    )


def _document_rows(result: Reachability) -> list[DocumentRow]:
    rows = []
    for doc, name in result.document_types:
        entry = document_type_entry(doc)
        rows.append(
            DocumentRow(
                identifier=doc.value,
                name=name or (entry.name if entry else None),
                state=entry.state.label if entry else None,
            )
        )
    return rows
