"""One company, several participant identifiers: counting organisations, not registrations.

A company is often registered more than once: a Belgian one under its enterprise number
(ICD 0208) and its VAT number (9925), which is the same ten digits with ``BE`` in front; a
Swedish one under its organisation number (0007) and the old VAT scheme (9955, ``SE`` +
number + ``01``); a German one under its VAT number (9930) and the German Electronic Business
Address (0246), which starts with that VAT number. Counting participants counts such a company
twice, so organisation-level counts reduce every identifier to an *organisation key* first, by
these stated rules - each one a fact of the schemes' definitions (Peppol participant
identifier scheme code list and the national registers behind it), never a guess from names:

=======  ==========================================  =====================================
country  schemes (ICD)                               the key is
=======  ==========================================  =====================================
BE       0208 enterprise no., 9925 VAT, 9956 (old)   the 10-digit enterprise number
SE       0007 org. no., 9955 VAT (old)               the 10-digit organisation number
DE       9930 VAT, 0246 GEBA                         the 9 digits of the VAT number
NO       0192 org. no., 9908 (old), 9909 VAT         the 9-digit organisation number
DK       0184 CVR, 9902 (old)                        the 8-digit CVR number
FI       0216 OVT, 0037 (old), 0212/0213 (old)       the 8-digit business id (Y-tunnus)
FR       0002 SIREN, 0009 SIRET, 9957 VAT            the 9-digit SIREN
IT       0211 VAT, 9906 (old), 0210 (11 digits)      the 11-digit partita IVA
=======  ==========================================  =====================================

Values are compared upper-cased without spaces, dots or dashes. An identifier no rule covers
(another scheme, or a value that does not have the rule's shape) is its own organisation: the
key is the participant identifier itself, so an organisation count is never lower than the
truth because of a rule, only possibly higher where no rule exists.

>>> organisation_key("0208:0123456789") == organisation_key("9925:BE0123456789")
True
>>> organisation_key("0007:5567321707"), organisation_key("9955:SE556732170701")
('SE:5567321707', 'SE:5567321707')
>>> organisation_key("0088:7300010000001")
'0088:7300010000001'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from peppolnet.identifiers import PARTICIPANT_SCHEME, ascii_lower, lower

__all__ = ["EQUIVALENCES", "Equivalence", "organisation_key"]


@dataclass(frozen=True, slots=True)
class Equivalence:
    """One rule: values of ``icd`` that match ``pattern`` belong to the organisation
    ``country:`` + the pattern's ``number`` group (``prefix`` put in front of it)."""

    country: str
    icd: str
    pattern: re.Pattern[str]
    prefix: str = ""

    def key(self, value: str) -> str | None:
        match = self.pattern.fullmatch(value)
        return None if match is None else f"{self.country}:{self.prefix}{match.group('number')}"


def _rule(country: str, icd: str, pattern: str, prefix: str = "") -> Equivalence:
    return Equivalence(country, icd, re.compile(pattern), prefix)


#: Every rule, by country (see the module notes).
EQUIVALENCES: Final[tuple[Equivalence, ...]] = (
    _rule("BE", "0208", r"(?:BE)?(?P<number>[01]\d{9})"),
    _rule("BE", "9956", r"(?:BE)?(?P<number>0\d{9})"),
    _rule("BE", "9925", r"BE(?P<number>[01]\d{9})"),
    _rule("BE", "9925", r"BE(?P<number>\d{9})", prefix="0"),  # the old 9-digit form
    _rule("SE", "0007", r"(?P<number>\d{10})"),
    _rule("SE", "9955", r"SE(?P<number>\d{10})01"),
    _rule("DE", "9930", r"DE(?P<number>\d{9})"),
    _rule("DE", "0246", r"DE(?P<number>\d{9})(?:\d{5})?(?:[0-9A-Z]{1,8})?"),
    _rule("NO", "0192", r"(?P<number>\d{9})"),
    _rule("NO", "9908", r"(?P<number>\d{9})"),
    _rule("NO", "9909", r"NO(?P<number>\d{9})(?:MVA)?"),
    _rule("DK", "0184", r"(?:DK)?(?P<number>\d{8})"),
    _rule("DK", "9902", r"(?:DK)?(?P<number>\d{8})"),
    _rule("FI", "0216", r"0037(?P<number>\d{8})[0-9A-Z]{0,5}"),
    _rule("FI", "0037", r"(?:0037)?(?P<number>\d{8})[0-9A-Z]{0,5}"),
    _rule("FI", "0212", r"(?P<number>\d{8})"),
    _rule("FI", "0213", r"FI(?P<number>\d{8})"),
    _rule("FR", "0002", r"(?P<number>\d{9})"),
    _rule("FR", "0009", r"(?P<number>\d{9})\d{5}"),
    _rule("FR", "9957", r"FR[0-9A-Z]{2}(?P<number>\d{9})"),
    _rule("IT", "0211", r"IT(?P<number>\d{11})"),
    _rule("IT", "9906", r"IT(?P<number>\d{11})"),
    _rule("IT", "0210", r"(?P<number>\d{11})"),
)
_BY_ICD: Final[dict[str, tuple[Equivalence, ...]]] = {}
for _equivalence in EQUIVALENCES:
    _BY_ICD[_equivalence.icd] = (*_BY_ICD.get(_equivalence.icd, ()), _equivalence)
_NOISE: Final = re.compile(r"[\s.\-]")


def _rule_key(icd: str, local: str) -> str | None:
    cleaned = _NOISE.sub("", local.upper())
    for rule in _BY_ICD.get(icd, ()):
        key = rule.key(cleaned)
        if key is not None:
            return key
    return None


def organisation_key(value: str, scheme: str = PARTICIPANT_SCHEME) -> str:
    """The organisation a participant identifier belongs to (``SE:5567321707``), or - where
    no rule applies - the identifier itself as compared (``0088:7300010000001``, lower-cased;
    ``scheme::value`` for a scheme other than ``iso6523-actorid-upis``)."""
    text = value.strip()
    if ascii_lower(scheme) != PARTICIPANT_SCHEME:
        return f"{scheme}::{text}"
    icd, sep, local = text.partition(":")
    if sep and icd in _BY_ICD:
        key = _rule_key(icd, local)
        if key is not None:
            return key
    return lower(text)
