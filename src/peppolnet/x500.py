"""X.500 distinguished names (pure): read the string form, compare names as a directory does.

A Peppol SMP ``Redirect`` names the target SMP's certificate by its subject written as a string
(``CertificateUID``, e.g. ``C=NO,O=Direktoratet for Forvaltning og IKT,OU=PEPPOL TEST SMP,
CN=PNO000179``). That string is text written by another program, and the same name has many
spellings: attribute types in any letter case (``cn=`` is ``CN=``, RFC 4512 §2.5), values in any
case and with insignificant spaces (``caseIgnoreMatch`` after RFC 4518 string preparation), and
special characters escaped either way (``\\,`` and ``\\2C`` are one comma, RFC 4514 §2.4).
Comparing strings, or splitting them by hand, refuses a correct redirect for a difference that
is no difference. So a UID is parsed by ``cryptography``'s RFC 4514 parser into an
:class:`x509.Name` and compared with the certificate's subject as RFC 4517
``distinguishedNameMatch`` says: the same number of RDNs, each RDN the same *set* of attribute
type and value pairs, values matched case-insensitively after RFC 4518 preparation (every
attribute a Peppol certificate carries - CN, OU, O, C, serialNumber, emailAddress, DC - has a
case-ignoring equality rule).

Two tolerances, both for spellings real SMPs produce:

* The RDNs may come in either order. RFC 4514 writes the last RDN of the sequence first, but
  OpenSSL prints subjects first RDN first, people copy UIDs from there, and a string does not
  say which convention it follows (the reference client ignores the order altogether). A name
  and its reverse are accepted; any other reordering is a different name.
* Spaces around the ``,`` and ``+`` separators, and ``;`` for ``,``, are accepted as RFC 2253 §4
  required of implementations (``java.security.Principal`` strings look like ``CN=x, O=y``),
  and so are spaces around the ``=`` after an attribute type (OpenSSL prints ``C = NO, O = y``).
  RFC 4514 allows neither; cryptography's parser follows RFC 4514, so those spaces are taken out
  before parsing (escaped characters and the values' own ``=`` are left alone).

Not supported: RFC 1779 quoted values and ``OID.`` prefixes. Values in
RFC 4514's ``#`` hex form are not decoded (cryptography reads them as their raw BER bytes, tag
and length included), so a UID that uses them is no reliable match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from peppolnet.errors import CertificateError
from peppolnet.i18n import _

__all__ = ["names_match", "parse_name"]

#: Attribute type names a UID may use, upper-cased (RFC 4514 §3 and the names OpenSSL and Java
#: print for the other attributes of Peppol and common CA subjects).
_ATTRIBUTE_TYPES: Final[Mapping[str, x509.ObjectIdentifier]] = {
    "CN": NameOID.COMMON_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "S": NameOID.STATE_OR_PROVINCE_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "STREET": NameOID.STREET_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "E": NameOID.EMAIL_ADDRESS,
    "EMAIL": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "T": NameOID.TITLE,
    "TITLE": NameOID.TITLE,
    "SN": NameOID.SURNAME,
    "SURNAME": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME,
    "GIVENNAME": NameOID.GIVEN_NAME,
    "ORGANIZATIONIDENTIFIER": NameOID.ORGANIZATION_IDENTIFIER,
}


class _AnyCase(Mapping[str, x509.ObjectIdentifier]):
    """The attribute type names for the parser, found whatever their letter case."""

    def __getitem__(self, name: str) -> x509.ObjectIdentifier:
        return _ATTRIBUTE_TYPES[name.upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(_ATTRIBUTE_TYPES)

    def __len__(self) -> int:
        return len(_ATTRIBUTE_TYPES)


_ANY_CASE: Final = _AnyCase()
# An escaped character (kept as it is); the start or a separator, then an attribute type and its
# '=', with the spaces around each; or a run of spaces inside a value.
_TIDY: Final = re.compile(
    r"(\\.)"
    r"|(?:^|[ ]*([,;+]))[ ]*([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)[ ]*=[ ]*"
    r"|[ ]{2,}",
    re.DOTALL,
)


def _without_spaces(text: str) -> str:
    """The spaces RFC 2253 §4 allowed around separators and OpenSSL prints around ``=`` taken
    out, ``;`` made ``,``.

    Only the ``=`` after an attribute type is touched (a value may hold ``=`` and spaces of its
    own). A run of unescaped spaces inside a value becomes one: it is insignificant for the
    comparison anyway, and cryptography checks X.520's 64-character bound on a common name
    against the value as written.
    """

    def tidy(match: re.Match[str]) -> str:
        escaped, separator, kind = match.group(1, 2, 3)
        if escaped:
            return str(escaped)
        if kind:
            return ("," if separator == ";" else separator or "") + f"{kind}="
        return " "

    tidied = _TIDY.sub(tidy, text)
    # trailing spaces belong to no value unless the last of them is escaped
    while tidied.endswith(" ") and not _escapes(tidied[:-1]):
        tidied = tidied[:-1]
    return tidied


def _escapes(text: str) -> bool:
    """Whether the character after ``text`` is escaped (an odd run of backslashes ends it)."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def parse_name(text: str) -> x509.Name:
    """Read a distinguished name in its string form (RFC 4514, with the spaces of RFC 2253 §4).

    >>> parse_name(r"cn=PNO000179, O=A\\2C B ,C=NO").rfc4514_string()
    'CN=PNO000179,O=A\\\\, B,C=NO'

    Raises :class:`~peppolnet.errors.CertificateError` for text that is no distinguished name
    (or an empty one, which names nothing).
    """
    try:
        name = x509.Name.from_rfc4514_string(_without_spaces(text), _ANY_CASE)
    except ValueError:  # UnicodeDecodeError and bad country-name lengths included
        name = None
    if not name:
        raise CertificateError(
            _("{text} is not a distinguished name (RFC 4514)", text=repr(text[:200]))
        )
    return name


_TO_SPACE: Final = frozenset({"Zs", "Zl", "Zp"})
_TO_NOTHING: Final = frozenset({"Cc", "Cf"})
_CONTROL_SPACES: Final = frozenset("\t\n\v\f\r\x85")


def _prepared(value: str) -> str:
    """RFC 4518 preparation for caseIgnoreMatch, as far as a comparison needs it.

    Separators and the control characters that are spaces become spaces, other controls and
    format characters vanish (§2.2), case is folded and the text NFKC-normalised (§2.2, §2.3),
    and insignificant spaces are folded: none at either end, one between words (§2.6.1).
    """
    mapped = "".join(
        " "
        if char in _CONTROL_SPACES or unicodedata.category(char) in _TO_SPACE
        else ""
        if unicodedata.category(char) in _TO_NOTHING
        else char
        for char in value
    )
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", mapped).casefold())
    return " ".join(word for word in folded.split(" ") if word)


def _key(name: x509.Name) -> tuple[frozenset[tuple[str, str | bytes]], ...]:
    return tuple(
        frozenset(
            (
                attribute.oid.dotted_string,
                _prepared(attribute.value) if isinstance(attribute.value, str) else attribute.value,
            )
            for attribute in rdn
        )
        for rdn in name.rdns
    )


def names_match(first: x509.Name, second: x509.Name) -> bool:
    """RFC 4517 ``distinguishedNameMatch`` of two names, in either RDN order (see the module).

    Empty names match nothing: an empty UID must never vouch for a certificate.
    """
    a, b = _key(first), _key(second)
    return bool(a) and (a == b or a == b[::-1])
