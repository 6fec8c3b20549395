"""Verification of enveloped XML signatures as SMPs use them (pure: bytes and trees in, facts out).

Why our own verifier instead of a general XMLDSig library: SMP signatures are one narrow shape
(one ``ds:Signature``, last child of the root, one ``Reference URI=""`` with the
enveloped-signature transform). Accepting *only* that shape is what defeats signature-wrapping
attacks, and doing the work with lxml's C14N and ``cryptography`` directly is several times faster
than a general verifier (see ``benchmarks/bench_verify.py``).

Two traps this module handles (Peppol SMP specification 1.2 and W3C XML Signature 1.1):

* The ``CanonicalizationMethod`` of ``SignedInfo`` applies to ``SignedInfo`` only. With just the
  enveloped-signature transform the *document* digest uses the XMLDSig default, inclusive C14N 1.0
  without comments - even when ``SignedInfo`` declares exclusive C14N.
* Inclusive C14N of ``SignedInfo`` must carry every namespace declaration in scope from its
  ancestors (and inherited ``xml:*`` attributes), not just the ones ``SignedInfo`` uses.

The caller reads data only from :attr:`VerifiedSignature.signed_root`: exactly the tree that was
digested (the signature cut out of it), so nothing outside the signed bytes can leak in.

Where the time goes (``benchmarks/bench_verify.py``): parsing, one C14N of SignedInfo and one of
the document, the RSA operation. Nothing is deep-copied on the :func:`verify_bytes` path, and the
signer's certificate is loaded once per distinct certificate text (:func:`_certificate`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

from lxml import etree

from peppolnet import xmlsafe
from peppolnet._x509 import decode_errors, parse_now
from peppolnet.errors import AlgorithmNotAllowed, InvalidSignature, InvalidSmpDocument
from peppolnet.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "C14N_1_1",
    "DS_NS",
    "ENVELOPED_SIGNATURE",
    "EXCLUSIVE_C14N",
    "INCLUSIVE_C14N_1_0",
    "MAX_DOCUMENT_BYTES",
    "RSA_SHA1",
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA1",
    "SHA256",
    "SHA384",
    "SHA512",
    "SIGNED_ROOT_TAGS",
    "SignaturePolicy",
    "VerifiedSignature",
    "find_signature",
    "parse_xml",
    "verify_bytes",
    "verify_enveloped",
]

DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

INCLUSIVE_C14N_1_0: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXCLUSIVE_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_1_1: Final = "http://www.w3.org/2006/12/xml-c14n11"
ENVELOPED_SIGNATURE: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

RSA_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

SHA1: Final = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512: Final = "http://www.w3.org/2001/04/xmlenc#sha512"

#: Canonicalisation methods accepted for SignedInfo and as an explicit Reference transform.
C14N_METHODS: Final = frozenset({INCLUSIVE_C14N_1_0, EXCLUSIVE_C14N, C14N_1_1})

_DIGEST_HASH: Final = {SHA1: "sha1", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}
_HASH_FUNCTIONS: Final = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
#: The DER prefix of a PKCS #1 v1.5 DigestInfo for each hash (RFC 8017, section 9.2, note 1):
#: an RSA signature of a digest opens to this and the digest, compared as one (RFC 8017's own
#: way to verify, section 8.2.2: encode what is expected, compare the encodings).
_DIGEST_INFO: Final = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
_SIGNATURE_HASH: Final = {
    RSA_SHA1: "sha1",
    RSA_SHA256: "sha256",
    RSA_SHA384: "sha384",
    RSA_SHA512: "sha512",
}

#: Elements that may carry an SMP signature as their direct child (Peppol SMP 1, OASIS SMP 1 and
#: its 2014 draft, OASIS SMP 2).
SIGNED_ROOT_TAGS: Final = frozenset(
    {
        "{http://busdox.org/serviceMetadata/publishing/1.0/}SignedServiceMetadata",
        "{http://docs.oasis-open.org/bdxr/ns/SMP/2016/05}SignedServiceMetadata",
        "{http://docs.oasis-open.org/bdxr/ns/SMP/2014/07}SignedServiceMetadata",
        "{http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup}ServiceGroup",
        "{http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata}ServiceMetadata",
    }
)

#: Largest document :func:`verify_bytes` / :func:`parse_xml` accept (SMP answers are a few kB).
MAX_DOCUMENT_BYTES: Final = 10 * 1024 * 1024

_DS: Final = f"{{{DS_NS}}}"
_XML: Final = f"{{{XML_NS}}}"
_SIGNATURE: Final = f"{_DS}Signature"
_TRANSFORM: Final = f"{_DS}Transform"
_X509_CERTIFICATE: Final = f"{_DS}X509Certificate"
# The only accepted element children of ds:Signature, ds:SignedInfo and ds:Reference, in order.
_SIGNATURE_SHAPE: Final = [f"{_DS}SignedInfo", f"{_DS}SignatureValue", f"{_DS}KeyInfo"]
_SIGNED_INFO_SHAPE: Final = [
    f"{_DS}CanonicalizationMethod",
    f"{_DS}SignatureMethod",
    f"{_DS}Reference",
]
_REFERENCE_SHAPE: Final = [f"{_DS}Transforms", f"{_DS}DigestMethod", f"{_DS}DigestValue"]


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """Which algorithm URIs a network accepts. Anything else fails with ``AlgorithmNotAllowed``."""

    allowed_signature_methods: frozenset[str]
    allowed_digest_methods: frozenset[str]

    @classmethod
    def strict(cls) -> SignaturePolicy:
        """RSA with SHA-256/384/512: Peppol SMP 1.3.0+ and OASIS SMP."""
        return cls(
            frozenset({RSA_SHA256, RSA_SHA384, RSA_SHA512}),
            frozenset({SHA256, SHA384, SHA512}),
        )

    @classmethod
    def legacy(cls) -> SignaturePolicy:
        """:meth:`strict` plus RSA-SHA1/SHA-1, for historical (G1/G2, SMP < 1.3.0) documents."""
        strict = cls.strict()
        return cls(
            strict.allowed_signature_methods | {RSA_SHA1},
            strict.allowed_digest_methods | {SHA1},
        )


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """The outcome of a successful verification.

    ``signed_root`` is the tree that was digested (signature removed): read data only from it.
    It is never the caller's tree unless the caller asked for ``in_place`` verification.
    ``extra_certificates`` are further ``X509Certificate`` values in KeyInfo (possible
    intermediates), never trusted by themselves.
    """

    certificate: x509.Certificate
    signature_method: str
    digest_method: str
    c14n_method: str
    signed_root: etree._Element
    extra_certificates: tuple[x509.Certificate, ...] = ()


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML with the library's one safe parser (:mod:`peppolnet.xmlsafe`).

    Raises ``UnsafeXml`` for a DOCTYPE, entities, oversized or too deep input and
    ``InvalidSmpDocument`` for XML that is not well-formed.
    """
    return xmlsafe.parse_xml(data, max_bytes=MAX_DOCUMENT_BYTES)


def find_signature(root: etree._Element) -> etree._Element | None:
    """The ``ds:Signature`` that is a direct child of ``root``, or None if there is none.

    Does not judge the structure; :func:`verify_enveloped` does.
    """
    for child in root:
        if child.tag == _SIGNATURE:
            return child
    return None


def verify_bytes(data: bytes, *, policy: SignaturePolicy) -> VerifiedSignature:
    """Parse ``data`` safely (see :func:`parse_xml`) and verify its enveloped signature.

    The freshly parsed tree belongs to this call, so it is verified in place (no copy).
    """
    return verify_enveloped(parse_xml(data), policy=policy, in_place=True)


def _structure(message: str) -> InvalidSignature:
    return InvalidSignature(message, step="structure")


def _elements(parent: etree._Element) -> list[etree._Element]:
    """Element children, skipping comments and processing instructions."""
    return [c for c in parent if isinstance(c.tag, str)]


def _elements_and_tags(parent: etree._Element) -> tuple[list[etree._Element], list[str]]:
    """Element children and their tags, reading each tag once (lxml builds it on every read)."""
    elements: list[etree._Element] = []
    tags: list[str] = []
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):
            elements.append(child)
            tags.append(tag)
    return elements, tags


def _local(el: etree._Element) -> str:
    """Local name of a ds: element, the full tag of anything else (for error messages only)."""
    tag = str(el.tag)
    return tag[len(_DS) :] if tag.startswith(_DS) else tag


def _text(el: etree._Element) -> str:
    if len(el) == 0:  # the usual case: one text node, no need to walk the subtree
        return el.text or ""
    return "".join(t if isinstance(t, str) else t.decode() for t in el.itertext())


def _b64_text(text: str, what: str) -> bytes:
    try:
        # Strict decoding in C accepts exactly what the fallback accepts minus whitespace.
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _structure(_("{what} is not valid base64", what=what)) from exc


def _b64(el: etree._Element, what: str) -> bytes:
    return _b64_text(_text(el), what)


def verify_enveloped(
    root: etree._Element, *, policy: SignaturePolicy, in_place: bool = False
) -> VerifiedSignature:
    """Verify the enveloped signature of an SMP document and return who signed it.

    Checks in order: structure (one Signature, last child of a known SMP root, one Reference
    ``URI=""``, only enveloped + c14n transforms, no ds:Object), algorithms against ``policy``,
    the certificate is readable, the document digest, the signature value. Each failure raises
    ``InvalidSignature`` with ``step`` set to "structure", "certificate", "digest" or
    "signature-value", or ``AlgorithmNotAllowed`` (step "algorithm").

    By default ``root``'s document is copied and left untouched. ``in_place=True`` is for a
    caller that parsed the tree only for this check: the signature is then cut out of ``root``
    itself (saving the copy) and, on success, ``signed_root is root``. After a failure such a
    tree may have lost its signature; it is still fine for display.

    It does not check the certificate's chain or dates: that is :mod:`peppolnet.pki`'s job.
    """
    root = _tree_to_verify(root, in_place)
    signature = _the_signature(root)
    parts = _signature_parts(signature)
    _check_algorithms(parts, policy)
    certificates = _certificates(parts.key_info)
    # SignedInfo is canonicalised while it still sits in the document: inclusive C14N needs the
    # namespaces (and xml:* attributes) it inherits there.
    signed_info_c14n = _canonicalize(
        parts.signed_info, parts.c14n_method, parts.c14n_prefixes, whole_document=False
    )
    _check_digest(root, signature, parts)
    signature_value = _b64(parts.signature_value, "ds:SignatureValue")
    _check_signature_value(
        certificates[0], signature_value, signed_info_c14n, _SIGNATURE_HASH[parts.signature_method]
    )
    # by position: a frozen dataclass's keyword call costs ~0.24 us more (same run)
    return VerifiedSignature(
        certificates[0],
        parts.signature_method,
        parts.digest_method,
        parts.c14n_method,
        root,
        tuple(certificates[1:]),
    )


class _SignatureParts(NamedTuple):
    """The pieces of a ``ds:Signature`` whose shape has been checked, and the algorithms it
    names (not yet checked against a policy). A named tuple, not a frozen dataclass: built once
    per verification, it costs ~0.3 us against the dataclass's ~1.2 us (ten
    ``object.__setattr__`` calls), a fifth of the whole shape check."""

    signed_info: etree._Element
    signature_value: etree._Element
    key_info: etree._Element
    c14n_method: str  # of SignedInfo
    c14n_prefixes: list[str] | None
    signature_method: str
    digest_method: str
    digest_value: etree._Element
    digest_c14n: str  # of the document
    digest_prefixes: list[str] | None


def _tree_to_verify(root: etree._Element, in_place: bool) -> etree._Element:
    """The tree the signature is cut out of: ``root`` itself only when ``in_place`` allows it,
    a copy otherwise; refused unless ``root`` is a known SMP root at the top of its document."""
    if not isinstance(root.tag, str) or root.tag not in SIGNED_ROOT_TAGS:
        raise _structure(
            _(
                "the root element {tag!r} is not one that carries an SMP signature",
                tag=str(root.tag),
            )
        )
    if root.getparent() is not None:
        raise _structure(_("the signed element must be the document's root element"))
    if root.getroottree().getroot() is not root:
        # A parentless element cut out of another document: copy it into a document of its own,
        # so that the digest covers exactly it (and never the document it came from).
        return copy.deepcopy(root)
    if not in_place:
        # Copy the whole document: processing instructions beside the root are signed too.
        return copy.deepcopy(root.getroottree()).getroot()
    return root


def _the_signature(root: etree._Element) -> etree._Element:
    """The one ``ds:Signature``, the last element child of ``root``: one anywhere else is what
    a signature-wrapping attack would use."""
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        raise InvalidSignature(_("the document is not signed (no ds:Signature)"), step="structure")
    if len(signatures) != 1:
        raise _structure(
            _(
                "the document has {count} ds:Signature elements, expected 1",
                count=len(signatures),
            )
        )
    signature = signatures[0]
    if signature.getparent() is not root:
        raise _structure(_("ds:Signature is not a direct child of the document root"))
    if root[-1] is not signature and _elements(root)[-1] is not signature:
        raise _structure(_("ds:Signature is not the last element of the document root"))
    return signature


def _shaped(parent: etree._Element, shape: list[str]) -> list[etree._Element] | None:
    """``parent``'s children if they are exactly the elements ``shape`` names, in order, with
    nothing between them; None otherwise.

    The layout every SMP writes, checked with one slice (in C) and one list comparison: about
    half the cost of walking the children one by one to skip comments and processing
    instructions. None sends the caller to that walk, which accepts the same layout with
    comments between the elements and names what is wrong with any other.
    """
    # every child (comments and processing instructions too), as a list built in C by a slice:
    # half the cost of list(parent); lxml-stubs know only int indexes
    children: list[etree._Element] = parent[:]  # type: ignore[index,assignment]
    if len(children) == len(shape) and [child.tag for child in children] == shape:
        return children
    return None


def _signature_children(signature: etree._Element) -> list[etree._Element]:
    """SignedInfo, SignatureValue and KeyInfo, refusing any other shape by name."""
    children = _shaped(signature, _SIGNATURE_SHAPE)
    if children is not None:
        return children
    children, tags = _elements_and_tags(signature)
    if tags != _SIGNATURE_SHAPE:
        names = [_local(c) for c in children]
        if names[:2] != ["SignedInfo", "SignatureValue"] or any(n != "KeyInfo" for n in names[2:]):
            raise _structure(
                _(
                    "ds:Signature must hold SignedInfo, SignatureValue and KeyInfo only, found "
                    "{found}",
                    found=", ".join(names),
                )
            )
        raise _structure(_("ds:Signature must have exactly one ds:KeyInfo with the certificate"))
    return children


def _children_shaped(
    parent: etree._Element, shape: list[str], refuse: Callable[[str], str]
) -> list[etree._Element]:
    """The element children of ``parent`` if they are the elements ``shape`` names (comments
    between them allowed); otherwise a structure error, the sentence ``refuse`` makes of the
    names found."""
    children = _shaped(parent, shape)
    if children is not None:
        return children
    children, tags = _elements_and_tags(parent)
    if tags != shape:
        raise _structure(refuse(", ".join(_local(c) for c in children)))
    return children


def _signature_parts(signature: etree._Element) -> _SignatureParts:
    """``signature`` taken apart, refusing any shape but SignedInfo, SignatureValue, KeyInfo."""
    signed_info, signature_value, key_info = _signature_children(signature)
    c14n_el, sig_method_el, reference = _children_shaped(
        signed_info,
        _SIGNED_INFO_SHAPE,
        lambda found: _(
            "ds:SignedInfo must be CanonicalizationMethod, SignatureMethod and exactly one "
            "Reference, found {found}",
            found=found,
        ),
    )
    if reference.get("URI") != "":
        raise _structure(_('the ds:Reference must have URI="" (the whole document)'))
    digest_method, digest_value, digest_c14n, digest_prefixes = _reference_parts(reference)
    return _SignatureParts(
        signed_info,
        signature_value,
        key_info,
        c14n_el.get("Algorithm", ""),
        _inclusive_prefixes(c14n_el),
        sig_method_el.get("Algorithm", ""),
        digest_method,
        digest_value,
        digest_c14n,
        digest_prefixes,
    )


def _transforms(transforms_el: etree._Element) -> list[etree._Element]:
    """The ds:Transform children (comments between them skipped); nothing else."""
    transforms: list[etree._Element] = transforms_el[:]  # type: ignore[index,assignment]
    tags = [t.tag for t in transforms]
    if tags.count(_TRANSFORM) == len(tags):  # the usual case: only Transform elements
        return transforms
    transforms, tags = _elements_and_tags(transforms_el)
    if any(tag != _TRANSFORM for tag in tags):
        raise _structure(_("ds:Transforms may hold only ds:Transform elements"))
    return transforms


def _reference_parts(
    reference: etree._Element,
) -> tuple[str, etree._Element, str, list[str] | None]:
    """The Reference's digest method, DigestValue, and the C14N of the document digest: the
    enveloped-signature transform alone (XMLDSig's default, inclusive C14N 1.0) or followed by
    one C14N transform; nothing else."""
    transforms_el, digest_method_el, digest_value_el = _children_shaped(
        reference,
        _REFERENCE_SHAPE,
        lambda found: _(
            "ds:Reference must be Transforms, DigestMethod, DigestValue, found {found}",
            found=found,
        ),
    )
    transforms = _transforms(transforms_el)
    algorithms = [t.get("Algorithm", "") for t in transforms]
    if not algorithms or algorithms[0] != ENVELOPED_SIGNATURE:
        raise _structure(_("the first transform must be the enveloped-signature transform"))
    digest_c14n = INCLUSIVE_C14N_1_0  # XMLDSig default for a node-set -> octets
    digest_prefixes: list[str] | None = None
    if len(algorithms) == 2 and algorithms[1] in C14N_METHODS:
        digest_c14n = algorithms[1]
        digest_prefixes = _inclusive_prefixes(transforms[1])
    elif len(algorithms) != 1:
        raise _structure(
            _(
                "only the enveloped-signature transform and one C14N transform are allowed, "
                "found {found}",
                found=", ".join(algorithms),
            )
        )
    return digest_method_el.get("Algorithm", ""), digest_value_el, digest_c14n, digest_prefixes


def _check_algorithms(parts: _SignatureParts, policy: SignaturePolicy) -> None:
    if parts.c14n_method not in C14N_METHODS:
        raise AlgorithmNotAllowed(
            _(
                "canonicalization method {c14n_method} is not supported",
                c14n_method=repr(parts.c14n_method),
            ),
            step="algorithm",
        )
    if parts.signature_method not in policy.allowed_signature_methods:
        raise AlgorithmNotAllowed(
            _(
                "signature method {signature_method} is not allowed by the network's policy",
                signature_method=repr(parts.signature_method),
            ),
            step="algorithm",
        )
    if parts.digest_method not in policy.allowed_digest_methods:
        raise AlgorithmNotAllowed(
            _(
                "digest method {digest_method} is not allowed by the network's policy",
                digest_method=repr(parts.digest_method),
            ),
            step="algorithm",
        )


def _check_digest(root: etree._Element, signature: etree._Element, parts: _SignatureParts) -> None:
    """The digest over the document without its signature (cut out of ``root`` here)."""
    _remove_signature(root, signature)
    document_c14n = _canonicalize(
        root, parts.digest_c14n, parts.digest_prefixes, whole_document=True
    )
    digest = _HASH_FUNCTIONS[_DIGEST_HASH[parts.digest_method]](document_c14n).digest()
    if digest != _b64(parts.digest_value, "ds:DigestValue"):
        raise InvalidSignature(
            _(
                "the document digest does not match ds:DigestValue: the signed content was "
                "changed (or re-formatted) after signing"
            ),
            step="digest",
        )


def _inclusive_prefixes(method_el: etree._Element) -> list[str] | None:
    """The ``InclusiveNamespaces PrefixList`` of an exclusive C14N method, if any."""
    if len(method_el) == 0:  # the usual case; counted in C, without an iterator object
        return None
    for child in method_el:
        if isinstance(child.tag, str) and etree.QName(child).localname == "InclusiveNamespaces":
            return (child.get("PrefixList") or "").split()
    return None


def _certificates(key_info: etree._Element) -> list[x509.Certificate]:
    texts = [_text(el) for el in key_info.iter(_X509_CERTIFICATE)]
    if not texts:
        raise InvalidSignature(
            _("ds:KeyInfo has no X509Data/X509Certificate with the signing certificate"),
            step="certificate",
        )
    return [_certificate(text) for text in texts]


#: The longest certificate text (base64 characters) :func:`_certificate` remembers. Real SMP
#: certificates are 1.5-3 kB of text; a hostile SMP's may be as long as its document.
_MEMO_TEXT_LIMIT: Final = 16 * 1024


def _certificate(text: str) -> x509.Certificate:
    """The certificate whose base64 DER is exactly ``text`` (as written in the document).

    Memoised by the text itself: the same few SMP certificates sign every document, and decoding
    plus loading one costs more than a small digest. The key is the complete text, so a document
    whose certificate differs in any character is decoded afresh; a different spelling of the same
    certificate (other line breaks) just gets its own entry. ``cryptography`` certificates are
    immutable, so sharing one between calls and threads is safe. Failures are not cached.

    Bounded in bytes by two numbers: texts over :data:`_MEMO_TEXT_LIMIT` are never kept, so the
    256 entries hold at most ~10 MB (~1.5 MB of real certificates). ``functools.lru_cache``
    rather than ``peppolnet._memory.lru_by_bytes``: it runs on every verification, and a hit
    costs 0.5 us against 1.0 us (same run).
    """
    if len(text) > _MEMO_TEXT_LIMIT:
        return _load_certificate(text)
    return _remembered_certificate(text)


def _load_certificate(text: str) -> x509.Certificate:
    from cryptography import x509

    der = _b64_text(text, "ds:X509Certificate")
    try:
        certificate = x509.load_der_x509_certificate(der)
        # before anything reads its key or names: a certificate whose key does not decode
        # would otherwise raise ValueError out of the signature check itself
        parse_now(certificate)
        return certificate
    except decode_errors() as exc:
        raise InvalidSignature(
            _("the certificate in ds:KeyInfo cannot be read: {error}", error=exc),
            step="certificate",
        ) from exc


_remembered_certificate = functools.lru_cache(maxsize=256)(_load_certificate)


@functools.cache
def _rsa_tools() -> tuple[type[rsa.RSAPublicKey], padding.PKCS1v15, type[Exception]]:
    """The ``cryptography`` objects every verification uses, imported and built once.

    Lazily, so that importing this module (e.g. for :class:`SignaturePolicy`) stays cheap.
    """
    from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    return rsa.RSAPublicKey, padding.PKCS1v15(), CryptoInvalidSignature


def _check_signature_value(
    certificate: x509.Certificate, value: bytes, data: bytes, hash_name: str
) -> None:
    """``value`` is the key's RSA signature (PKCS #1 v1.5) of ``data`` hashed with ``hash_name``.

    The signature is opened (``recover_data_from_signature``: the RSA operation and the padding
    check) and compared with the DigestInfo expected, rather than handed to ``verify`` with the
    hash: ``verify`` hashes in Rust through a digest context made per call, ~13k of ~911k
    instructions of a whole verification more than hashlib and one comparison (callgrind).
    """
    rsa_key_type, pkcs1v15, crypto_invalid_signature = _rsa_tools()
    key = certificate.public_key()
    if not isinstance(key, rsa_key_type):
        raise AlgorithmNotAllowed(
            _(
                "the signing certificate has a {kind}; RSA is required for the declared signature "
                "method",
                kind=type(key).__name__,
            ),
            step="algorithm",
        )
    recovered = None
    # RFC 8017 8.2.2 step 1: exactly k octets. Opening alone would take a signature whose
    # leading zero octet was left out (what verify() refuses): the same value, another spelling.
    if len(value) == (key.key_size + 7) // 8:
        try:  # not contextlib.suppress: its object costs ~0.26 us per call (same run)
            recovered = key.recover_data_from_signature(value, pkcs1v15, None)
        except crypto_invalid_signature:
            recovered = None
    if recovered != _DIGEST_INFO[hash_name] + _HASH_FUNCTIONS[hash_name](data).digest():
        raise InvalidSignature(
            _("the signature value does not match ds:SignedInfo and the certificate's key"),
            step="signature-value",
        )


def _remove_signature(root: etree._Element, signature: etree._Element) -> None:
    """Cut ``signature`` out of ``root``, as the enveloped-signature transform says.

    The signature's tail text belongs to the parent's content (it is a separate text node in the
    XPath data model), but lxml removes it together with the element, so it is put back.
    """
    tail = signature.tail
    previous = signature.getprevious()
    root.remove(signature)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            root.text = (root.text or "") + tail


def _standalone(serialised: bytes, extra_attrib: dict[str, str]) -> etree._Element:
    """A subtree as the root of a document of its own, from lxml's serialisation of it.

    That serialisation declares every namespace in scope on the subtree's top element and keeps
    every element's and attribute's own prefix, even where a document binds one namespace to two
    prefixes (real SMPs bind the signature namespace as ``xmlns:ns4`` on the root and as
    ``xmlns`` on the Signature). Copying or moving elements instead lets lxml re-pick prefixes
    by namespace URI, which changes the canonical bytes. ``extra_attrib`` carries the ``xml:*``
    attributes the subtree inherits.
    """
    try:
        # lxml's own output for a subtree of a tree we hold: the safe parser, without the walks
        # that judge a sender's document (the namespace cap was applied to the document)
        root = xmlsafe.parse_serialised(serialised, max_bytes=MAX_DOCUMENT_BYTES)
    except InvalidSmpDocument as exc:  # not for trees from parse_xml; a caller's tree may be odd
        raise _structure(_("ds:SignedInfo cannot be canonicalised: {error}", error=exc)) from None
    for name, value in extra_attrib.items():
        root.set(name, value)
    return root


def _inherited_xml_attributes(el: etree._Element, method: str) -> dict[str, str]:
    """``xml:*`` attributes inclusive C14N of the subtree ``el`` must carry from its ancestors."""
    inherited: dict[str, str] = {}
    for ancestor in el.iterancestors():
        for name, value in ancestor.items():  # no _Attrib proxy per ancestor
            key = str(name)
            if key.startswith(_XML) and key not in inherited and key not in el.attrib:
                inherited[key] = str(value)
    if inherited and method == C14N_1_1:
        inherited.pop(f"{_XML}id", None)
        if f"{_XML}base" in inherited:
            raise InvalidSignature(
                _("xml:base above ds:SignedInfo with C14N 1.1 is not supported"),
                step="structure",
            )
    return inherited


def _canonicalize(
    el: etree._Element, method: str, prefixes: list[str] | None, *, whole_document: bool
) -> bytes:
    """:func:`_c14n`, with libxml2's refusals as an invalid signature, not an lxml error.

    C14N refuses what parsing accepts, e.g. a relative namespace URI (``xmlns:a="//x"``: found
    by the long fuzz run); such a document cannot have been signed as C14N defines it.
    """
    try:
        return _c14n(el, method, prefixes, whole_document=whole_document)
    except etree.C14NError as exc:
        detail = str(exc) or "C14N failed"
        raise _structure(
            _("the document cannot be canonicalised ({detail})", detail=detail)
        ) from None


def _c14n(
    el: etree._Element, method: str, prefixes: list[str] | None, *, whole_document: bool
) -> bytes:
    """C14N (without comments) of a whole document or of one subtree in its context.

    The trap for a subtree (Peppol SMP specification 1.2 and W3C XML Signature 1.1): inclusive C14N
    must render every namespace in
    scope (and the ``xml:*`` attributes inherited) on the subtree's top element, and nothing
    more below it than each element's own, new declarations. lxml canonicalises a subtree in
    place on a temporary copy of its top element, while the descendants keep pointing at the
    original namespace declarations; libxml2's record of what is already rendered then misses
    entries, so it renders declarations *again* below the top element: a redundant
    redeclaration, or a bogus ``xmlns=""`` under an element in an inherited default namespace
    (real SMPs: ``<Signature xmlns="...xmldsig#">`` under a root with its own default
    namespace). Missing entries can only make it render more, never less, and the top
    element's start tag comes from the copy, which declares everything in scope.

    So the in-place result (~4 us) is used when it has no namespace declaration after the top
    element's start tag (the sandbox's ``ds:`` layout; a ``>`` or "xmlns" in a value only
    sends a subtree the slow way), and otherwise the subtree is canonicalised as a document of
    its own (:func:`_standalone`, ~12 us), as it is when it inherits ``xml:*`` attributes.
    ``tests/test_xmldsig.py`` checks the outcome against a C14N written from the
    specifications for generated namespace layouts (20,000 of them agreed when this was
    written; lxml's in-place result alone disagreed on a fifth, the old detached copy on half).
    """
    exclusive = method == EXCLUSIVE_C14N
    inclusive_ns_prefixes = prefixes if exclusive else None
    if whole_document:
        # C14N 1.1 differs from 1.0 only for xml:id / xml:base inherited into a document
        # *subset*; the whole document is not a subset, so the output is identical.
        return etree.tostring(
            el.getroottree(),
            method="c14n",
            exclusive=exclusive,
            with_comments=False,
            inclusive_ns_prefixes=inclusive_ns_prefixes,
        )
    inherited = {} if exclusive else _inherited_xml_attributes(el, method)
    # Known to need the slow way: the top element itself in an inherited default namespace.
    if not inherited and not (el.prefix is None and None in el.nsmap):
        in_place = etree.tostring(
            el,
            method="c14n",
            exclusive=exclusive,
            with_comments=False,
            inclusive_ns_prefixes=inclusive_ns_prefixes,
        )
        if in_place.find(b"xmlns", in_place.find(b">")) == -1:
            return in_place
    return etree.tostring(
        _standalone(etree.tostring(el, with_tail=False), inherited),
        method="c14n",
        exclusive=exclusive,
        with_comments=False,
        inclusive_ns_prefixes=inclusive_ns_prefixes,
    )
