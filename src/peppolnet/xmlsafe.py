"""The one safe XML parser every peppolnet module uses.

SMP responses, Directory answers and business cards come from servers we do not control, so the
parser treats every document as hostile until proven otherwise:

* no DTD at all (internal or external): a DTD is the door for entity expansion ("billion laughs"),
  external entities (``file:///etc/passwd``) and network access, and no SMP dialect needs one;
* no entity substitution, no network access, no XInclude processing;
* a size limit (checked before parsing) and a depth limit (libxml2's own limit while parsing, ours
  right after, with one compiled XPath, so the check runs in C);
* at most :data:`MAX_NAMESPACE_DECLARATIONS` namespace declarations: canonicalisation (which runs
  before any digest is compared) costs about (elements x in-scope namespaces squared), so 2,000
  declarations on the root of an 80 kB answer cost 54 s of CPU. Real SMP answers, Directory
  answers and business cards declare at most five; with the cap, the worst document under the
  size limit costs a small multiple of a normal one of the same size.

Every check after parsing runs in C (an XPath, a tag-filtered ``iter``): this parser sits in front
of every signature check, so its Python overhead counts (``benchmarks/bench_verify.py``).

Whitespace is kept exactly as sent (``remove_blank_text=False``): XML signatures are computed over
the bytes as they are, and a parser that "tidies" the tree breaks every signature.

One :class:`lxml.etree.XMLParser` is reused per thread (parsers are not thread-safe, and creating
one per call costs more than parsing a typical 5 kB SMP answer).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Final

from lxml import etree

from peppolnet.errors import InvalidSmpDocument, UnsafeXml
from peppolnet.i18n import _

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "MAX_NAMESPACE_DECLARATIONS",
    "parse_serialised",
    "parse_xml",
]

DEFAULT_MAX_BYTES: Final = 2_000_000
DEFAULT_MAX_DEPTH: Final = 64
#: Namespace declarations a document may carry (the real ones carry at most five).
MAX_NAMESPACE_DECLARATIONS: Final = 16

XINCLUDE_NS: Final = "http://www.w3.org/2001/XInclude"

_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_blank_text=False,
            remove_comments=False,
            remove_pis=False,
            attribute_defaults=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """``boolean(/*/*/.../*)`` with ``max_depth + 1`` steps: true iff an element is too deep.

    Without the EXSLT regular-expression functions lxml registers in every evaluation's context
    by default (the expression uses none): ~0.3 us of the check's ~2.4 us."""
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")", regexp=False)


#: Depth of the first, short look: SMP answers, Directory answers and business cards nest ~10
#: levels, so one element this deep is rare and only then is the whole limit's path evaluated.
_PROBE_DEPTH: Final = 16


def _deeper_than(root: etree._Element, max_depth: int) -> bool:
    """Whether an element sits deeper than ``max_depth``. An XPath step costs ~12 ns even after
    the tree has run out, so a document without any element at :data:`_PROBE_DEPTH` is
    answered by a path of 16 steps instead of ``max_depth + 1`` (64: 1.4 us against 2.1 us)."""
    if max_depth >= _PROBE_DEPTH and not _too_deep(_PROBE_DEPTH - 1)(root):
        return False
    return bool(_too_deep(max_depth)(root))


@lru_cache(maxsize=8)
def _suspect(depth: int) -> etree.XPath:
    """``boolean(/*/.../*) or boolean(//xi:*)``: false iff no element is deeper than ``depth``
    and none is in the XInclude namespace. The usual answer, "neither", in one evaluation:
    0.56 us less than the two checks apart (same run), whose cost is mostly per evaluation."""
    return etree.XPath(
        "boolean(" + "/*" * (depth + 1) + ") or boolean(//xi:*)",
        namespaces={"xi": XINCLUDE_NS},
        regexp=False,
    )


_POSITION_SUFFIX: Final = re.compile(r",\s*line \d+, column \d+$")
_ANY_XINCLUDE: Final = f"{{{XINCLUDE_NS}}}*"


def parse_xml(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_namespaces: int | None = MAX_NAMESPACE_DECLARATIONS,
) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, refusing anything dangerous.

    Raises :class:`~peppolnet.errors.UnsafeXml` for a DTD/DOCTYPE, entity declarations, XInclude
    elements, a document over ``max_bytes``, nested deeper than ``max_depth`` elements or with
    more than ``max_namespaces`` namespace declarations (None: a re-parse of a tree that was
    already checked), and
    :class:`~peppolnet.errors.InvalidSmpDocument` (with line and column) for malformed XML.

    >>> parse_xml(b"<a><b>text</b></a>").findtext("b")
    'text'
    """
    if type(data) is not bytes:  # the usual case tested first: one identity comparison
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise InvalidSmpDocument(
                _("XML must be given as bytes, not {kind}", kind=type(data).__name__)
            )
    root = _parsed(data, max_bytes)
    docinfo: etree.DocInfo = root.getroottree().docinfo
    # Catches DTDs in encodings the byte scan above cannot see (UTF-16, UTF-32, EBCDIC).
    doctype: str = getattr(docinfo, "doctype", "")  # not in lxml-stubs
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml(_("the XML document has a DOCTYPE or entity declaration; DTDs are refused"))
    # One XPath answers the usual "neither too deep nor XInclude"; only a suspect document
    # (an element at the probe's depth, or any XInclude element) is looked at for each.
    suspect = _suspect(min(max_depth, _PROBE_DEPTH - 1))(root)
    if suspect and _deeper_than(root, max_depth):
        raise UnsafeXml(
            _("the XML document nests elements deeper than {max_depth} levels", max_depth=max_depth)
        )
    if max_namespaces is not None:
        declarations = _namespace_declarations(data, docinfo, root)
        if declarations > max_namespaces:
            raise UnsafeXml(
                _(
                    "the XML document declares {declarations} namespaces; at most "
                    "{max_namespaces} are accepted",
                    declarations=format(declarations, ","),
                    max_namespaces=max_namespaces,
                )
            )
    if suspect and next(root.iter(_ANY_XINCLUDE), None) is not None:  # a tag-filtered walk, in C
        raise UnsafeXml(_("the XML document contains XInclude elements; they are refused"))
    return root


def parse_serialised(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse what lxml wrote (``etree.tostring``) from an element of a tree already in memory,
    to make that subtree a document of its own: the same parser, size limit and DOCTYPE scan as
    :func:`parse_xml`, without its walks over the parsed tree.

    Those walks judge what a *sender* wrote. An element's serialisation carries no DOCTYPE and
    no entity declarations (lxml writes neither for an element, and escapes ``<`` in text; the
    byte scan still refuses them), is no deeper than the tree it came from (and libxml2 refuses
    more than 256 levels itself), and declares only the namespaces in scope there. The one
    caller, :mod:`peppolnet.xmldsig`, only canonicalises the result. Same run: 4.7 us against
    8.6 us for a 0.9 kB ``ds:SignedInfo`` (the re-parse of a signature in a default namespace).

    >>> parse_serialised(b'<a xmlns="urn:x"><b>text</b></a>').findtext("{urn:x}b")
    'text'
    """
    return _parsed(data, max_bytes)


def _parsed(data: bytes, max_bytes: int) -> etree._Element:
    """The size limit, the DOCTYPE scan and the parse itself: what every parse here does."""
    if len(data) > max_bytes:
        raise UnsafeXml(
            _(
                "the XML document is {length} bytes long; at most {max_bytes} are accepted",
                length=format(len(data), ","),
                max_bytes=format(max_bytes, ","),
            )
        )
    # Fast refusal before libxml2 sees anything (ASCII-compatible encodings, i.e. nearly all).
    # Looking for a lone "!" first is a memchr (~0.1 us); most SMP answers have none, and the
    # two substring searches cost ~2 us each on a 7 kB answer.
    if b"!" in data and (b"<!DOCTYPE" in data or b"<!ENTITY" in data):
        raise UnsafeXml(_("the XML document has a DOCTYPE or entity declaration; DTDs are refused"))
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    except (etree.LxmlError, ValueError) as exc:
        raise InvalidSmpDocument(
            _("the document is not well-formed XML: {error}", error=exc)
        ) from None
    if root is None:  # pragma: no cover - lxml raises instead for an empty document
        raise InvalidSmpDocument(_("the document is empty"))
    return root


_ASCII_COMPATIBLE: Final = frozenset({"UTF-8", "US-ASCII", "ASCII", "ISO-8859-1", "LATIN1"})


def _namespace_declarations(data: bytes, docinfo: etree.DocInfo, root: etree._Element) -> int:
    """How many ``xmlns`` declarations (an upper bound: the text is counted, not parsed).

    A byte count is a single pass in C; counting declarations on the tree would cost what the
    cap is there to prevent. For encodings where "xmlns" is not those five bytes (UTF-16, ...)
    the parsed tree is written out once as UTF-8 and counted there.
    """
    # ASCII-compatible text starts with "<" (after a UTF-8 BOM or white space); UTF-16, UTF-32
    # and EBCDIC do not, and lxml may still report UTF-8 for them
    ascii_start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"
    if not ascii_start or (docinfo.encoding or "UTF-8").upper() not in _ASCII_COMPATIBLE:
        data = etree.tostring(root, encoding="UTF-8")
    return data.count(b"xmlns")


def _syntax_error(exc: etree.XMLSyntaxError) -> InvalidSmpDocument:
    message = _POSITION_SUFFIX.sub("", (exc.msg or str(exc)).strip())
    line, column = exc.position if exc.position else (exc.lineno, 0)
    lowered = message.lower()
    if "excessive depth" in lowered or "huge" in lowered or "entity" in lowered:
        return UnsafeXml(
            _(
                "the XML document was refused: {message} (line {line}, column {column})",
                message=message,
                line=line,
                column=column,
            )
        )
    return InvalidSmpDocument(
        _(
            "the document is not well-formed XML: {message} (line {line}, column {column})",
            message=message,
            line=line,
            column=column,
        )
    )
