"""Document-type families: which kind of business a document type is for.

The code list has hundreds of document types - every version, every national extension - but
an analyst asks a handful of questions: can they receive a Peppol BIS Billing 3.0 invoice? a
credit note? anything PINT? orders? message-level responses? So each document type falls into
one family, decided from its identifier alone (Peppol Policy for use of Identifiers, POLICY 20:
``<root namespace>::<root element>##<customization id>::<version>``):

* ``billing-invoice`` / ``billing-credit-note`` - Peppol BIS Billing 3.0 itself: the
  customization ``urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0``,
  an invoice (UBL Invoice or CII) or a credit note. National CIUS and extensions built on it
  (XRechnung, SI-UBL, ...) are ``other``: they are not the BIS every Peppol receiver takes.
* ``self-billing`` - BIS Self-Billing 3.0 and PINT self-billing (checked before PINT).
* ``pint`` - every other Peppol International invoice model (``urn:peppol:pint:...``).
* ``ordering`` - orders and order responses (UBL ``Order``, ``OrderResponse``,
  ``OrderResponseSimple``, ``OrderChange``, ``OrderCancellation``), any version.
* ``mlr-mls`` - Message Level Response and Message Level Status.
* ``other`` - everything else.

>>> document_family(
...     "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
...     "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
... ).value
'billing-invoice'
>>> document_family(
...     "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
...     "urn:peppol:pint:billing-1@jp-1::2.1"
... ).value
'pint'
"""

from __future__ import annotations

import enum
import functools
from typing import Final

__all__ = ["BIS_BILLING", "DocumentFamily", "document_family"]

#: The customization id of Peppol BIS Billing 3.0.
BIS_BILLING: Final = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
_ORDERING_ROOTS: Final = frozenset(
    {"Order", "OrderResponse", "OrderResponseSimple", "OrderChange", "OrderCancellation"}
)
_INVOICE_ROOTS: Final = frozenset({"Invoice", "CrossIndustryInvoice"})


class DocumentFamily(enum.StrEnum):
    """The family of a document type (see the module notes for the rules)."""

    BILLING_INVOICE = "billing-invoice"
    BILLING_CREDIT_NOTE = "billing-credit-note"
    SELF_BILLING = "self-billing"
    PINT = "pint"
    ORDERING = "ordering"
    MLR_MLS = "mlr-mls"
    OTHER = "other"


def _parts(value: str) -> tuple[str, str]:
    """(root element local name, customization id) of a document type identifier value."""
    root, _, rest = value.partition("##")
    element = root.rsplit("::", 1)[-1]
    customization = rest.rsplit("::", 1)[0] if "::" in rest else rest
    return element, customization


@functools.lru_cache(maxsize=4096)
def document_family(value: str) -> DocumentFamily:
    """The family of a document type identifier value (without its scheme; a ``*`` wildcard
    suffix is ignored). Cached: an export holds a few hundred distinct values."""
    element, customization = _parts(value.strip())
    customization = customization.rstrip("*")
    if "selfbilling" in customization and (
        ":poacc:selfbilling:" in customization or "urn:peppol:pint:selfbilling" in customization
    ):
        return DocumentFamily.SELF_BILLING
    if customization.startswith("urn:peppol:pint:"):
        return DocumentFamily.PINT
    if customization == BIS_BILLING:
        if element in _INVOICE_ROOTS:
            return DocumentFamily.BILLING_INVOICE
        if element == "CreditNote":
            return DocumentFamily.BILLING_CREDIT_NOTE
    if element in _ORDERING_ROOTS:
        return DocumentFamily.ORDERING
    if ":poacc:trns:mlr:" in customization or "urn:peppol:edec:mls:" in customization:
        return DocumentFamily.MLR_MLS
    if element == "ApplicationResponse" and "biitrns071" in customization:
        return DocumentFamily.MLR_MLS  # the MLR of the old PEPPOL BIS 36a
    return DocumentFamily.OTHER
