"""Peppol identifiers as immutable values: participants, document types, processes, profiles.

The rules are those of the Peppol Policy for use of Identifiers 4.4 (PFUOI):

* URI form ``scheme::value``, split at the *first* ``::`` (document type values contain more).
* Every scheme is 1..25 characters without whitespace or ``::`` (POLICY 1). The participant
  scheme is also ``[a-z0-9]+-[a-z0-9]+-[a-z0-9]+`` on the lower-cased scheme (it becomes a DNS
  label). Values of ``iso6523-actorid-upis`` are ``NNNN:`` followed by 1..130 characters of
  ``[A-Za-z0-9._~-]`` and compare case-insensitively (POLICY 2); values of other participant
  schemes are 1..135 characters.
* Document types (1..500 characters) and processes (1..200 characters) are case-sensitive,
  ISO-8859-1 and without whitespace. Document types of ``busdox-docid-qns`` and
  ``peppol-doctype-wildcard`` have the structure of POLICY 20,
  ``<root namespace>::<local name>##<customization id>::<version>``; the part before ``##`` may
  also be one non-XML syntax id without ``::`` (``urn:peppol:doctype:pdf+xml``), as the code
  list publishes. ``*`` belongs to ``peppol-doctype-wildcard`` only (POLICY 17).
* Transport profiles: 1..50 characters of ``[A-Za-z0-9_-]``.

Strict parsing is the default. ``lax=True`` reads what real SMPs publish, as the reference
implementation's lax factory does, and relaxes exactly these rules:

* participants of ``iso6523-actorid-upis``: the four ICD characters need not be digits (the
  colon after them is still required) and the local part may hold any characters, whitespace
  included; participants of other schemes may hold whitespace;
* document types: whitespace, ``*`` in ``busdox-docid-qns`` customization ids, and the
  structure of POLICY 20 (production SMPs register ``busdox-docid-qns`` values such as
  ``urn:no:difi:einnsyn:xsd::einnsyn_kvittering``, with neither ``##`` nor a customization id);
* processes: whitespace.

Everything else holds in both modes: every length limit above (schemes, participant, document
type and process values), ISO-8859-1 for document types and processes, and non-empty values. A
length limit is what keeps an SMP's text from growing a cache key, a log line or a URL without
bound; lax parsing is for reading the network, not for admitting anything at all.

Values compare, hash and print by their *normalised* form, so ``0007:5567321707`` and
``0007:5567321707`` typed in different case are the same key in a dict or a database.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from typing import Any, ClassVar, Final

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from peppolnet.errors import (
    InvalidDocumentTypeId,
    InvalidIdentifier,
    InvalidParticipantId,
    InvalidProcessId,
    InvalidTransportProfile,
)
from peppolnet.i18n import Message, _

__all__ = [
    "BIS_BILLING_CREDIT_NOTE",
    "BIS_BILLING_INVOICE",
    "BIS_BILLING_PROCESS",
    "DOCTYPE_SCHEME_BUSDOX",
    "DOCTYPE_SCHEME_WILDCARD",
    "PARTICIPANT_SCHEME",
    "PROCESS_SCHEME",
    "TRANSPORT_AS4",
    "DocumentTypeId",
    "ParticipantId",
    "ProcessId",
    "TransportProfile",
    "url_segment",
]

SEPARATOR: Final = "::"
PARTICIPANT_SCHEME: Final = "iso6523-actorid-upis"
DOCTYPE_SCHEME_BUSDOX: Final = "busdox-docid-qns"
DOCTYPE_SCHEME_WILDCARD: Final = "peppol-doctype-wildcard"
PROCESS_SCHEME: Final = "cenbii-procid-ubl"

MAX_SCHEME_LENGTH: Final = 25
MAX_PARTICIPANT_LOCAL_LENGTH: Final = 130
MAX_PARTICIPANT_VALUE_LENGTH: Final = 4 + 1 + MAX_PARTICIPANT_LOCAL_LENGTH
MAX_DOCTYPE_LENGTH: Final = 500
MAX_PROCESS_LENGTH: Final = 200
MAX_TRANSPORT_PROFILE_LENGTH: Final = 50

_SCHEME_RE: Final = re.compile(r"[a-z0-9]+-[a-z0-9]+-[a-z0-9]+")
_ICD_VALUE_RE: Final = re.compile(r"([0-9]{4}):([A-Za-z0-9._~-]+)")
_TRANSPORT_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_WHITESPACE_RE: Final = re.compile(r"\s")
# The strict bare value in one pattern: what _check_participant_value accepts for the iso6523
# scheme when lax is off (four ASCII digits, a colon, 1..130 allowed characters).
_STRICT_ICD_VALUE_RE: Final = re.compile(
    rf"[0-9]{{4}}:[A-Za-z0-9._~-]{{1,{MAX_PARTICIPANT_LOCAL_LENGTH}}}"
)
_URI_PREFIX: Final = PARTICIPANT_SCHEME + SEPARATOR


def lower(text: str) -> str:
    """Lower-case an identifier value as the SML and the reference implementation do.

    Java's ``toLowerCase(Locale.US)`` (POLICY 7, "no special character handling") follows the
    Unicode default rules, as Python's ``str.lower`` does; the SML hashes the value lowered this
    way, so equality and the DNS name must use this one function. For the ASCII values strict
    parsing allows it is plain ASCII lower-casing.
    """
    return text.lower()


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only (for case-insensitive matching of URLs and schemes)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


_PLAIN_SEGMENT: Final = re.compile(r"[A-Za-z0-9._~:-]*")


def url_segment(uri: str) -> str:
    """Percent-encode one SMP URL path segment (RFC 3986, every reserved character encoded).

    An identifier of unreserved characters and ``:`` (nearly every participant) only needs each
    ``:`` replaced, which is what ``urllib.parse.quote`` with ``safe=""`` does to it a byte at a
    time (~10 us per participant, a URL is built per lookup; tests/test_smp_urls.py compares
    the two on any text).
    """
    if _PLAIN_SEGMENT.fullmatch(uri):
        return uri.replace(":", "%3A")
    return urllib.parse.quote(uri, safe="")


def _is_latin1(text: str) -> bool:
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return False
    return True


def _split_uri(text: str) -> tuple[str | None, str]:
    """Split ``scheme::value`` at the first separator; no separator means no scheme."""
    scheme, sep, value = text.partition(SEPARATOR)
    if not sep:
        return None, text
    return scheme, value


def _pydantic_schema(cls: type[Any]) -> core_schema.CoreSchema:
    """Validate from a string (or an instance), serialise to the URI form."""
    from_str = core_schema.no_info_plain_validator_function(cls._pydantic_validate)
    return core_schema.json_or_python_schema(
        json_schema=from_str,
        python_schema=from_str,
        serialization=core_schema.plain_serializer_function_ser_schema(str),
    )


class _Identifier:
    """Shared behaviour: immutability, equality on the normalised key, URI rendering."""

    __slots__ = ("_key", "scheme", "value")
    scheme: str
    value: str
    _key: tuple[str, str]

    error: ClassVar[type[InvalidIdentifier]] = InvalidIdentifier

    def _init(self, scheme: str, value: str, key_value: str, key_scheme: str | None = None) -> None:
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_key", (key_scheme or scheme, key_value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def uri(self) -> str:
        """The URI form ``scheme::value`` (normalised, not percent-encoded)."""
        return f"{self._key[0]}{SEPARATOR}{self._key[1]}"

    def url_segment(self) -> str:
        """The URI form percent-encoded as one SMP URL path segment."""
        return url_segment(self.uri)

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Identifier)
        return self._key == other._key

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key))

    def __lt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Identifier)
        return self._key < other._key

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt leniently: the value was checked when it was made, and lax identifiers (read
        # from real SMPs) must survive pickling and deep copies too
        cls: Any = type(self)  # every concrete identifier takes lax=
        rebuild = functools.partial(cls, lax=True)
        return (rebuild, (self.scheme, self.value))

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self

    @classmethod
    def parse(cls, text: str, *, lax: bool = False) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def _pydantic_validate(cls, value: object) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise cls.error(
                _(
                    "expected a string for {target}, got {kind}",
                    target=cls.__name__,
                    kind=type(value).__name__,
                )
            )
        return cls.parse(value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _pydantic_schema(cls)


class ParticipantId(_Identifier):
    """A Peppol participant (a receiver or sender), e.g. ``iso6523-actorid-upis::0007:5567321707``.

    >>> pid = ParticipantId.parse("0007:5567321707")
    >>> pid.uri
    'iso6523-actorid-upis::0007:5567321707'
    >>> pid.icd, pid.local_id
    ('0007', '5567321707')
    >>> ParticipantId.parse("9930:DE211155632") == ParticipantId.parse("9930:de211155632")
    True
    >>> pid.url_segment()
    'iso6523-actorid-upis%3A%3A0007%3A5567321707'
    """

    __slots__ = ()
    error = InvalidParticipantId

    def __init__(self, scheme: str, value: str, *, lax: bool = False) -> None:
        scheme = _check_participant_scheme(scheme)
        insensitive = self.case_insensitive_scheme(scheme)
        value = _check_participant_value(scheme, value, lax=lax, insensitive=insensitive)
        if insensitive:
            # the iso6523 meta scheme in any spelling is one scheme (its DNS label is lowered),
            # and its values compare case-insensitively (POLICY 2)
            self._init(scheme, value, lower(value), PARTICIPANT_SCHEME)
        else:
            self._init(scheme, value, value)

    @staticmethod
    def case_insensitive_scheme(scheme: str) -> bool:
        """POLICY 2: values of the iso6523 meta scheme compare case-insensitively."""
        # the spelling nearly every identifier has, compared before any lower-casing
        return scheme == PARTICIPANT_SCHEME or ascii_lower(scheme) == PARTICIPANT_SCHEME

    @classmethod
    def parse(cls, text: str, *, lax: bool = False) -> ParticipantId:
        """Parse the URI form ``scheme::value`` or the bare ``ICD:id`` form.

        Surrounding whitespace is removed (real SMPs wrap identifiers in newlines); whitespace
        inside the identifier is an error.
        """
        if not isinstance(text, str):
            raise InvalidParticipantId(
                _("a participant identifier must be text, not {kind}", kind=type(text).__name__)
            )
        stripped = text.strip()
        if not stripped:
            raise InvalidParticipantId(_("the participant identifier is empty"), value=text)
        scheme, value = _split_uri(stripped)
        return cls(PARTICIPANT_SCHEME if scheme is None else scheme, value, lax=lax)

    @classmethod
    def _parse_usual(cls, text: str) -> ParticipantId | None:
        """:meth:`parse` (strict) for text written as nearly every identifier is, else None.

        ``0007:5567321707`` or ``iso6523-actorid-upis::0007:5567321707`` exactly, checked by one
        pattern that accepts what :meth:`parse`'s separate checks accept for such text (the
        hypothesis test in tests/test_identifiers.py holds the two together); anything else
        (whitespace, another spelling of the scheme, an error to explain) returns None and goes
        through :meth:`parse`. ``schemes.validate()`` is the caller: the general path was about
        half of its own cost above python-stdnum's (same process: 3.1 -> 1.4 us per id).
        """
        value = text[len(_URI_PREFIX) :] if text.startswith(_URI_PREFIX) else text
        if _STRICT_ICD_VALUE_RE.fullmatch(value) is None:
            return None
        pid = cls.__new__(cls)
        pid._init(PARTICIPANT_SCHEME, value, lower(value), PARTICIPANT_SCHEME)
        return pid

    @classmethod
    def of(cls, icd: str, local_id: str, *, lax: bool = False) -> ParticipantId:
        """Build ``iso6523-actorid-upis::{icd}:{local_id}`` from its two parts."""
        return cls(PARTICIPANT_SCHEME, f"{icd}:{local_id}", lax=lax)

    @property
    def icd(self) -> str | None:
        """The four-digit ICD code of the identifier scheme (``0007``), if the value has one."""
        head, sep, _ = self._key[1].partition(":")
        return head if sep and len(head) == 4 and head.isdigit() else None

    @property
    def local_id(self) -> str:
        """The identifier within its scheme (``5567321707``), without the ICD prefix."""
        _, sep, rest = self._key[1].partition(":")
        return rest if sep and self.icd is not None else self._key[1]

    @property
    def bare(self) -> str:
        """The bare ``ICD:id`` form (the normalised value)."""
        return self._key[1]

    @property
    def normalised_value(self) -> str:
        """The value as compared: lower-cased for the iso6523 scheme, as given otherwise."""
        return self._key[1]


def _check_participant_scheme(scheme: str) -> str:
    if scheme == PARTICIPANT_SCHEME:  # nearly every identifier: no pattern to match
        return scheme
    if not scheme:
        raise InvalidParticipantId(_("the participant identifier scheme is empty"), value=scheme)
    if len(scheme) > MAX_SCHEME_LENGTH:
        raise InvalidParticipantId(
            _(
                "the participant identifier scheme {scheme} is {length} characters long; at most "
                "{limit} are allowed",
                scheme=repr(scheme),
                length=len(scheme),
                limit=MAX_SCHEME_LENGTH,
            ),
            value=scheme,
        )
    if not _SCHEME_RE.fullmatch(ascii_lower(scheme)):
        raise InvalidParticipantId(
            _(
                "the participant identifier scheme {scheme} must look like '{participant_scheme}' "
                "(letters and digits in three parts joined by '-')",
                scheme=repr(scheme),
                participant_scheme=PARTICIPANT_SCHEME,
            ),
            value=scheme,
        )
    return scheme


def _check_participant_value(scheme: str, value: str, *, lax: bool, insensitive: bool) -> str:
    if _WHITESPACE_RE.search(value) and not lax:
        raise InvalidParticipantId(
            _("the participant identifier {value} contains whitespace", value=repr(value)),
            value=value,
        )
    if not insensitive:
        if not value:
            raise InvalidParticipantId(_("the participant identifier value is empty"), value=value)
        if len(value) > MAX_PARTICIPANT_VALUE_LENGTH:
            raise InvalidParticipantId(
                _(
                    "the participant identifier {value}... is {length} characters long; at most "
                    "{limit} are allowed",
                    value=value[:20],
                    length=len(value),
                    limit=MAX_PARTICIPANT_VALUE_LENGTH,
                ),
                value=value,
            )
        return value
    icd_ok = lax or (value[:4].isascii() and value[:4].isdigit())
    if len(value) < 5 or value[4] != ":" or not icd_ok:
        raise InvalidParticipantId(
            _(
                "the participant identifier {value} must start with a four-digit scheme code and "
                "a colon, like '0007:5567321707'",
                value=repr(value),
            ),
            value=value,
        )
    local = value[5:]
    if not local:
        raise InvalidParticipantId(
            _(
                "the participant identifier {value} has nothing after the scheme code",
                value=repr(value),
            ),
            value=value,
        )
    if len(local) > MAX_PARTICIPANT_LOCAL_LENGTH:
        raise InvalidParticipantId(
            _(
                "the participant identifier {value}... is {length} characters long after the "
                "scheme code; at most {limit} are allowed",
                value=value[:20],
                length=len(local),
                limit=MAX_PARTICIPANT_LOCAL_LENGTH,
            ),
            value=value,
        )
    if lax:
        return value
    if not _ICD_VALUE_RE.fullmatch(value):
        bad = sorted({c for c in local if not (c.isascii() and (c.isalnum() or c in "._~-"))})
        raise InvalidParticipantId(
            _(
                "the participant identifier {value} contains characters that are not allowed "
                "({listed}); only letters, digits, '-', '.', '_' and '~' are",
                value=repr(value),
                listed=repr("".join(bad)),
            ),
            value=value,
        )
    return value


# What _check_scheme and _check_value name, by the ``what`` their callers give.
_SCHEME_OF: Final = {
    "document type": _("the document type scheme"),
    "process": _("the process scheme"),
}
_IDENTIFIER_OF: Final = {
    "document type": _("the document type identifier"),
    "process": _("the process identifier"),
}


def _check_scheme(scheme: str, error: type[InvalidIdentifier], what: str) -> None:
    """POLICY 1 for document type and process schemes: 1..25 characters, no whitespace, no ``::``.

    The reference implementation applies the 25-character limit to every identifier scheme, not
    only to the participant's (which must also fit a DNS label).
    """
    if not scheme or _WHITESPACE_RE.search(scheme) or SEPARATOR in scheme:
        raise error(
            _("{name} {scheme} is empty or malformed", name=_SCHEME_OF[what], scheme=repr(scheme)),
            value=scheme,
        )
    if len(scheme) > MAX_SCHEME_LENGTH:
        raise error(
            _(
                "{name} {scheme}... is {length} characters long; at most {limit} are allowed",
                name=_SCHEME_OF[what],
                scheme=repr(scheme[:30]),
                length=len(scheme),
                limit=MAX_SCHEME_LENGTH,
            ),
            value=scheme,
        )


def _check_value(
    value: str, error: type[InvalidIdentifier], what: str, limit: int, *, lax: bool
) -> None:
    """POLICY 1 for document type and process values: length and ISO-8859-1 always, whitespace
    (POLICY 17 and 25) only when strict."""
    if not value:
        raise error(_("{name} is empty", name=_IDENTIFIER_OF[what]), value=value)
    if len(value) > limit:
        raise error(
            _(
                "{name} is {length} characters long; at most {limit} are allowed",
                name=_IDENTIFIER_OF[what],
                length=len(value),
                limit=limit,
            ),
            value=value,
        )
    if not _is_latin1(value):
        raise error(
            _("{name} contains characters outside ISO-8859-1", name=_IDENTIFIER_OF[what]),
            value=value,
        )
    if not lax and _WHITESPACE_RE.search(value):
        raise error(
            _(
                "{name} {value} contains whitespace",
                name=_IDENTIFIER_OF[what],
                value=repr(value[:60]),
            ),
            value=value,
        )


#: The schemes whose values have the structure of POLICY 20.
_STRUCTURED_DOCTYPE_SCHEMES: Final = frozenset({DOCTYPE_SCHEME_BUSDOX, DOCTYPE_SCHEME_WILDCARD})
_DOCTYPE_SHAPE: Final = "<root namespace>::<local name>##<customization id>::<version>"


def _document_type_parts(value: str) -> tuple[str, str | None, str | None, str, str | None]:
    """(syntax id, root namespace, local name, customization id, version) of a value.

    The syntax id is everything before the first ``##``; for XML syntaxes it is the root
    namespace and the local name joined by their last ``::`` (a local name has no colon), for a
    non-XML syntax (no ``::``) both are ``None``. The customization id and the version are split
    at the *last* ``::`` (customization ids contain single colons); no ``::`` gives version
    ``None``. Missing parts read as empty strings (only lax values can have them).
    """
    syntax, _, rest = value.partition("##")
    namespace, xml, local = syntax.rpartition(SEPARATOR)
    customization, found, version = rest.rpartition(SEPARATOR)
    if not found:
        customization = rest
    return (
        syntax,
        namespace if xml else None,
        local if xml else None,
        customization,
        version if found else None,
    )


def _document_type_problem(value: str) -> Message | None:
    """Which part of POLICY 20's structure ``value`` lacks, as the end of a sentence, or None.

    Each is a catalog message of its own: it ends a sentence that is shown in Swedish too."""
    if "##" not in value:
        return _("has no '##' and customization id after its root element")
    syntax, namespace, local, customization, version = _document_type_parts(value)
    if not syntax:
        return _("has no root element (namespace '::' local name) before '##'")
    if namespace == "":
        return _("has no root namespace before '::'")
    if local == "":
        return _("has no root element local name between '::' and '##'")
    if not customization:
        return _("has no customization id between '##' and '::'")
    if version is None:
        return _("has no '::' and version after its customization id")
    if not version:
        return _("has no version after its last '::'")
    return None


class DocumentTypeId(_Identifier):
    """A document type, e.g. Peppol BIS Billing 3.0 invoice. Case-sensitive.

    >>> doc = DocumentTypeId.parse(BIS_BILLING_INVOICE.uri)
    >>> doc.customization_id
    'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0'
    >>> doc.root_local_name, doc.version
    ('Invoice', '2.1')

    Values of ``busdox-docid-qns`` and ``peppol-doctype-wildcard`` must have every part of
    ``<root namespace>::<local name>##<customization id>::<version>`` when parsed strictly:

    >>> try:
    ...     DocumentTypeId.parse("busdox-docid-qns::urn:x::X")
    ... except InvalidDocumentTypeId as exc:
    ...     print(exc.message.partition(";")[0])
    the document type identifier 'urn:x::X' has no '##' and customization id after its root element
    """

    __slots__ = ()
    error = InvalidDocumentTypeId

    def __init__(self, scheme: str, value: str, *, lax: bool = False) -> None:
        """Check ``scheme`` and ``value`` (see the module docstring for what ``lax`` relaxes)."""
        _check_scheme(scheme, InvalidDocumentTypeId, "document type")
        _check_value(value, InvalidDocumentTypeId, "document type", MAX_DOCTYPE_LENGTH, lax=lax)
        if not lax and scheme in _STRUCTURED_DOCTYPE_SCHEMES:
            problem = _document_type_problem(value)
            if problem is not None:
                raise InvalidDocumentTypeId(
                    _(
                        "the document type identifier {value} {problem}; Peppol document types "
                        "look like {doctype_shape}",
                        value=repr(value[:80]),
                        problem=problem,
                        doctype_shape=_DOCTYPE_SHAPE,
                    ),
                    value=value,
                )
        if not lax and scheme == DOCTYPE_SCHEME_BUSDOX and "*" in value:
            raise InvalidDocumentTypeId(
                _(
                    "'*' is only allowed in '{doctype_scheme_wildcard}' document types",
                    doctype_scheme_wildcard=DOCTYPE_SCHEME_WILDCARD,
                ),
                value=value,
            )
        self._init(scheme, value, value)

    @classmethod
    def parse(cls, text: str, *, lax: bool = False) -> DocumentTypeId:
        """Parse ``scheme::value``; a bare value gets the scheme the reference client would use.

        A bare value is recognised by what precedes its first ``::`` containing a colon (it is
        then a namespace URI, not a scheme): PINT values get ``peppol-doctype-wildcard``, others
        ``busdox-docid-qns``.
        """
        if not isinstance(text, str):
            raise InvalidDocumentTypeId(
                _("a document type identifier must be text, not {kind}", kind=type(text).__name__)
            )
        stripped = text.strip()
        if not stripped:
            raise InvalidDocumentTypeId(_("the document type identifier is empty"), value=text)
        scheme, value = _split_uri(stripped)
        if scheme is None or ":" in scheme:
            value = stripped
            scheme = (
                DOCTYPE_SCHEME_WILDCARD if "##urn:peppol:pint:" in value else DOCTYPE_SCHEME_BUSDOX
            )
        return cls(scheme, value, lax=lax)

    @property
    def syntax_id(self) -> str:
        """Everything before ``##``: ``<root namespace>::<local name>`` or a non-XML syntax id."""
        return _document_type_parts(self.value)[0]

    @property
    def root_namespace(self) -> str | None:
        """The XML namespace of the document's root element; ``None`` for a non-XML syntax."""
        return _document_type_parts(self.value)[1]

    @property
    def root_local_name(self) -> str | None:
        """The local name of the document's root element (``Invoice``); ``None`` if not XML."""
        return _document_type_parts(self.value)[2]

    @property
    def customization_id(self) -> str:
        """The customization id (``cbc:CustomizationID``), including a wildcard ``*`` if any."""
        return _document_type_parts(self.value)[3]

    @property
    def version(self) -> str:
        """The syntax version after the last ``::`` (``2.1`` for UBL 2.1)."""
        return _document_type_parts(self.value)[4] or ""

    @property
    def is_wildcard(self) -> bool:
        """Whether this is a ``peppol-doctype-wildcard`` identifier."""
        return self.scheme == DOCTYPE_SCHEME_WILDCARD


class ProcessId(_Identifier):
    """A business process, e.g. ``cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0``.

    A bare value gets the ``cenbii-procid-ubl`` scheme.
    """

    __slots__ = ()
    error = InvalidProcessId

    def __init__(self, scheme: str, value: str, *, lax: bool = False) -> None:
        """Check ``scheme`` and ``value`` (see the module docstring for what ``lax`` relaxes)."""
        _check_scheme(scheme, InvalidProcessId, "process")
        _check_value(value, InvalidProcessId, "process", MAX_PROCESS_LENGTH, lax=lax)
        self._init(scheme, value, value)

    @classmethod
    def parse(cls, text: str, *, lax: bool = False) -> ProcessId:
        """Parse ``scheme::value`` or a bare value (scheme ``cenbii-procid-ubl``)."""
        if not isinstance(text, str):
            raise InvalidProcessId(
                _("a process identifier must be text, not {kind}", kind=type(text).__name__)
            )
        stripped = text.strip()
        if not stripped:
            raise InvalidProcessId(_("the process identifier is empty"), value=text)
        scheme, value = _split_uri(stripped)
        if scheme is None or ":" in scheme:
            scheme, value = PROCESS_SCHEME, stripped
        return cls(scheme, value, lax=lax)


class TransportProfile:
    """A transport profile such as ``peppol-transport-as4-v2_0`` (case-sensitive, no scheme)."""

    __slots__ = ("value",)
    value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise InvalidTransportProfile(
                _("a transport profile must be text, not {kind}", kind=type(value).__name__)
            )
        value = value.strip()
        if not value or len(value) > MAX_TRANSPORT_PROFILE_LENGTH:
            raise InvalidTransportProfile(
                _(
                    "the transport profile {value} must be 1 to {limit} characters long",
                    value=repr(value[:60]),
                    limit=MAX_TRANSPORT_PROFILE_LENGTH,
                ),
                value=value,
            )
        if not _TRANSPORT_RE.fullmatch(value):
            raise InvalidTransportProfile(
                _(
                    "the transport profile {value} may only contain letters, digits, '_' and '-'",
                    value=repr(value),
                ),
                value=value,
            )
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, text: str) -> TransportProfile:
        """Same as the constructor; here for symmetry with the other identifiers."""
        return cls(text)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TransportProfile is immutable")

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"TransportProfile({self.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportProfile):
            return NotImplemented
        return self.value == other.value

    def __hash__(self) -> int:
        return hash(("TransportProfile", self.value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (TransportProfile, (self.value,))

    @classmethod
    def _pydantic_validate(cls, value: object) -> TransportProfile:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise InvalidTransportProfile(
                _("expected a string for TransportProfile, got {kind}", kind=type(value).__name__)
            )
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _pydantic_schema(cls)


BIS_BILLING_INVOICE: Final = DocumentTypeId(
    DOCTYPE_SCHEME_BUSDOX,
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
)
"""Peppol BIS Billing 3.0 invoice (UBL 2.1)."""

BIS_BILLING_CREDIT_NOTE: Final = DocumentTypeId(
    DOCTYPE_SCHEME_BUSDOX,
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
)
"""Peppol BIS Billing 3.0 credit note (UBL 2.1)."""

BIS_BILLING_PROCESS: Final = ProcessId(
    PROCESS_SCHEME, "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
)
"""The Peppol BIS Billing 3.0 process."""

TRANSPORT_AS4: Final = TransportProfile("peppol-transport-as4-v2_0")
"""The only active Peppol transport profile (AS4 v2.0)."""
