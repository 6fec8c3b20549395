"""The safe XML parser refuses hostile documents and keeps benign ones byte-faithful."""

from __future__ import annotations

import contextlib
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from peppolnet.errors import InvalidSmpDocument, UnsafeXml
from peppolnet.xmlsafe import parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r>&xxe;</r>"""


def _utf16(text: str) -> bytes:
    """UTF-16 hides '<!DOCTYPE' from a byte scan: the parser-level checks must still catch it."""
    return text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


def test_benign_document_parses_with_whitespace_kept() -> None:
    data = b'<a xmlns="urn:x">\n  <b>  text  </b>\n  <!-- c -->\n</a>'
    root = parse_xml(data)
    assert root.findtext("{urn:x}b") == "  text  "
    assert etree.tostring(root) == data  # signatures need the bytes as they were


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(UnsafeXml, match="DOCTYPE"):
        parse_xml(BILLION_LAUGHS)


def test_billion_laughs_in_utf16_is_refused_by_the_parser_checks() -> None:
    data = _utf16(BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', ""))
    assert b"<!DOCTYPE" not in data
    with pytest.raises(UnsafeXml):
        parse_xml(data)


def test_external_entity_to_local_file_is_refused() -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(XXE_FILE)
    with pytest.raises(UnsafeXml):
        parse_xml(_utf16(XXE_FILE.decode()))


def test_undeclared_entity_reference_is_refused() -> None:
    with pytest.raises(InvalidSmpDocument, match="Entity 'xxe' not defined"):
        parse_xml(b"<r>&xxe;</r>")


@pytest.fixture
def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def _nobody_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return True
    conn.close()
    return False


def test_external_dtd_is_refused_without_network_access(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/evil.dtd"><r>&e;</r>'
    )
    for data in (doc.encode(), _utf16(doc)):
        with pytest.raises(UnsafeXml):
            parse_xml(data)
    assert _nobody_connected(listener)


def test_external_entity_over_http_makes_no_request(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE r ['
        f'<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><r/>'
    )
    with pytest.raises(UnsafeXml):
        parse_xml(_utf16(doc))
    assert _nobody_connected(listener)


def test_xinclude_is_refused() -> None:
    data = (
        b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></r>'
    )
    with pytest.raises(UnsafeXml, match="XInclude"):
        parse_xml(data)


def test_xinclude_anywhere_and_in_any_spelling_is_refused() -> None:
    nested_default = (
        b"<r><a><b><include xmlns='http://www.w3.org/2001/XInclude' href='x'/></b></a></r>"
    )
    with pytest.raises(UnsafeXml, match="XInclude"):
        parse_xml(nested_default)
    as_root = b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>'
    with pytest.raises(UnsafeXml, match="XInclude"):
        parse_xml(as_root)
    # the namespace merely declared, not used: nothing to include
    assert parse_xml(b'<r xmlns:xi="http://www.w3.org/2001/XInclude"><a/></r>').tag == "r"


def test_exclamation_marks_without_a_doctype_parse() -> None:
    # The DOCTYPE pre-scan only runs when the bytes contain a "!" at all.
    root = parse_xml(b"<r>Hello!<!-- note --><![CDATA[<x>]]></r>")
    assert root.text == "Hello!"
    with pytest.raises(UnsafeXml, match="DOCTYPE"):
        parse_xml(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')


def test_oversized_document_is_refused_before_parsing() -> None:
    data = b"<r>" + b"x" * 3_000_000 + b"</r>"
    with pytest.raises(UnsafeXml, match="3,000,007 bytes"):
        parse_xml(data)
    assert parse_xml(data, max_bytes=4_000_000).tag == "r"


def test_depth_1000_is_refused() -> None:
    data = b"<a>" * 1000 + b"</a>" * 1000
    with pytest.raises(UnsafeXml):
        parse_xml(data)


def test_depth_limit_is_exact() -> None:
    assert parse_xml(b"<a>" * 64 + b"</a>" * 64).tag == "a"
    with pytest.raises(UnsafeXml, match="deeper than 64"):
        parse_xml(b"<a>" * 65 + b"</a>" * 65)
    with pytest.raises(UnsafeXml, match="deeper than 3"):
        parse_xml(b"<a><b><c><d/></c></b></a>", max_depth=3)


@settings(max_examples=200)
@given(
    st.integers(min_value=2, max_value=80),
    st.integers(min_value=1, max_value=70),
    st.integers(min_value=0, max_value=3),
)
def test_depth_limit_is_exact_for_any_limit(depth: int, max_depth: int, siblings: int) -> None:
    """The short look at 16 levels first (xmlsafe._deeper_than) decides exactly as the whole
    path: refused iff some element is deeper than the limit, wherever the deep branch is."""
    chain = b"<b>" * (depth - 1) + b"</b>" * (depth - 1)
    data = b"<a>" + b"<s/>" * siblings + chain + b"</a>"  # the siblings are 2 deep
    if depth > max_depth:
        with pytest.raises(UnsafeXml, match=f"deeper than {max_depth} "):
            parse_xml(data, max_depth=max_depth)
    else:
        assert parse_xml(data, max_depth=max_depth).tag == "a"


@pytest.mark.parametrize("xinclude", [False, True])
@pytest.mark.parametrize("depth", [3, 20])
def test_xinclude_is_found_whether_or_not_the_document_is_deep(depth: int, xinclude: bool) -> None:
    """One XPath looks for both an element at the probe's depth (16) and XInclude; a document
    that is deep but allowed must still be searched for XInclude, and accepted without it."""
    element = (
        b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>'
        if xinclude
        else b"<c/>"
    )
    data = b"<b>" * depth + element + b"</b>" * depth
    if xinclude:
        with pytest.raises(UnsafeXml, match="XInclude"):
            parse_xml(data)
    else:
        assert parse_xml(data).tag == "b"


def test_malformed_xml_names_line_and_column() -> None:
    with pytest.raises(InvalidSmpDocument, match=r"mismatch.*line 2, column \d+") as info:
        parse_xml(b"<a>\n<b></a>")
    assert not isinstance(info.value, UnsafeXml)


@pytest.mark.parametrize("data", [b"", b"   ", b"\x00\x01", b"not xml", b"<a"])
def test_garbage_is_invalid(data: bytes) -> None:
    with pytest.raises(InvalidSmpDocument):
        parse_xml(data)


def test_non_bytes_is_a_typed_error() -> None:
    with pytest.raises(InvalidSmpDocument, match="bytes"):
        parse_xml("<a/>")  # type: ignore[arg-type]


def test_parse_serialised_keeps_the_parsers_refusals() -> None:
    """parse_serialised (lxml's own output for a subtree) skips parse_xml's tree walks; the
    size limit, the DOCTYPE scan and libxml2's own depth limit still refuse what they refuse."""
    from peppolnet.xmlsafe import parse_serialised

    assert parse_serialised(b'<a xmlns="urn:x"><b>t</b></a>').findtext("{urn:x}b") == "t"
    with pytest.raises(UnsafeXml, match="DOCTYPE"):
        parse_serialised(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>")
    with pytest.raises(UnsafeXml, match="bytes long"):
        parse_serialised(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)
    with pytest.raises(UnsafeXml):  # libxml2 refuses this depth itself (no huge_tree)
        parse_serialised(b"<a>" * 3000 + b"</a>" * 3000)
    with pytest.raises(InvalidSmpDocument):
        parse_serialised(b"<a>&undefined;</a>")
    with pytest.raises(InvalidSmpDocument):
        parse_serialised(b"<a><b></a>")


def test_byte_buffers_get_every_check_plain_bytes_get() -> None:
    """Only exact ``bytes`` skip the conversion; buffers and subclasses are parsed (and
    refused) the same way."""

    class Sub(bytes):
        pass

    for wrap in (bytearray, memoryview, Sub):
        assert parse_xml(wrap(b"<a><b>t</b></a>")).findtext("b") == "t"  # type: ignore[arg-type]
        with pytest.raises(UnsafeXml):
            parse_xml(wrap(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>"))  # type: ignore[arg-type]
        with pytest.raises(UnsafeXml):
            parse_xml(wrap(b"<a>" * 80 + b"</a>" * 80))  # type: ignore[arg-type]


def test_parser_is_safe_across_threads() -> None:
    docs = [f"<r><v>{i}</v></r>".encode() for i in range(200)]

    def parse(data: bytes) -> str | None:
        return parse_xml(data).findtext("v")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(parse, docs))
    assert results == [str(i) for i in range(200)]
    assert threading.active_count() >= 1


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    try:
        root = parse_xml(data)
    except InvalidSmpDocument:
        return
    assert isinstance(root.tag, str)


@settings(max_examples=200)
@given(st.text(alphabet="<>/!&;#x[]ENTITYDOCabc \"'=?", max_size=80))
def test_markup_soup_raises_only_typed_errors(text: str) -> None:
    with contextlib.suppress(InvalidSmpDocument):
        parse_xml(text.encode())


def _with_declarations(count: int, elements: int = 10) -> str:
    decls = " ".join(f'xmlns:n{i}="urn:example:{i}"' for i in range(count - 1))
    body = "".join(f"<n0:e>{i}</n0:e>" for i in range(elements))
    return f'<r xmlns="urn:example:root" {decls}>{body}</r>'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_namespace_declarations_are_capped_exactly(encoding: str) -> None:
    from peppolnet.xmlsafe import MAX_NAMESPACE_DECLARATIONS as CAP

    assert parse_xml(_with_declarations(CAP).encode(encoding)) is not None
    with pytest.raises(UnsafeXml, match=f"declares {CAP + 1} namespaces; at most {CAP}"):
        parse_xml(_with_declarations(CAP + 1).encode(encoding))


def test_the_worst_signed_document_costs_a_small_multiple_of_a_normal_one() -> None:
    """Canonicalisation costs (elements x in-scope namespaces squared) before any digest is
    compared: 2,000 declarations made an 80 kB answer cost 54 s. Under the cap, the worst answer
    near the size limit costs a small multiple of a plain one of the same size, measured here in
    the same run (minimum of interleaved repeats, so a busy machine slows both alike)."""
    import tempfile
    import time
    from pathlib import Path

    from peppolnet.sandbox.pki import TestPki
    from peppolnet.sandbox.signing import sign_enveloped
    from peppolnet.xmldsig import SignaturePolicy, verify_bytes
    from peppolnet.xmlsafe import MAX_NAMESPACE_DECLARATIONS as CAP

    pki = TestPki.generate(Path(tempfile.mkdtemp(prefix="peppolnet-c14n-")))
    signer = pki.issue_smp_certificate("PSE000001", "Example AB", "SE")
    smp = "http://busdox.org/serviceMetadata/publishing/1.0/"

    def signed(declarations: int) -> bytes:
        decls = " ".join(f'xmlns:n{i}="urn:example:{i}"' for i in range(declarations))
        body = "".join(f"<smp:E>{i}</smp:E>" for i in range(20_000))
        root = etree.fromstring(
            f'<smp:SignedServiceMetadata xmlns:smp="{smp}" {decls}>{body}'
            "</smp:SignedServiceMetadata>".encode()
        )
        sign_enveloped(root, signer.private_key, signer.certificate)
        return etree.tostring(root)

    plain, worst = signed(2), signed(CAP - 2)  # + smp and ds: 4 and CAP declarations
    assert abs(len(worst) - len(plain)) < 0.01 * len(plain)
    costs: dict[bytes, float] = {plain: float("inf"), worst: float("inf")}
    for _ in range(5):
        for document in (plain, worst):
            started = time.perf_counter()
            verify_bytes(document, policy=SignaturePolicy.strict())
            costs[document] = min(costs[document], time.perf_counter() - started)
    assert costs[worst] < 10 * costs[plain], costs  # ~3x measured; uncapped it grows without end
