"""Verification of enveloped XML signatures as SMPs use them (pure: bytes and trees in, facts out).

Why our own verifier instead of a general XMLDSig library: SMP signatures are one narrow shape
(one ``ds:Signature``, last child of the root, one ``Reference URI=""`` with the
enveloped-signature transform). Accepting *only* that shape is what defeats signature-wrapping
attacks, and doing the work with lxml's C14N and ``cryptography`` directly is several times faster
than a general verifier (see ``benchmarks/bench_verify.py``).

Two traps this module handles (FACTS.md §3.6):

* The ``CanonicalizationMethod`` of ``SignedInfo`` applies to ``SignedInfo`` only. With just the
  enveloped-signature transform the *document* digest uses the XMLDSig default, inclusive C14N 1.0
  without comments - even when ``SignedInfo`` declares exclusive C14N.
* Inclusive C14N of ``SignedInfo`` must carry every namespace declaration in scope from its
  ancestors (and inherited ``xml:*`` attributes), not just the ones ``SignedInfo`` uses.

The caller reads data only from :attr:`VerifiedSignature.signed_root`: a copy of exactly the
tree that was digested (the signature removed), so nothing outside the signed bytes can leak in.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from lxml import etree

from peppolnet import xmlsafe
from peppolnet.errors import AlgorithmNotAllowed, InvalidSignature

if TYPE_CHECKING:
    from cryptography import x509

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

_SIGNATURE: Final = f"{{{DS_NS}}}Signature"


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
    """Parse ``data`` safely (see :func:`parse_xml`) and verify its enveloped signature."""
    return verify_enveloped(parse_xml(data), policy=policy)


def _structure(message: str) -> InvalidSignature:
    return InvalidSignature(message, step="structure")


def _only_child(parent: etree._Element, local: str) -> etree._Element:
    found = [c for c in parent if c.tag == f"{{{DS_NS}}}{local}"]
    if len(found) != 1:
        raise _structure(
            f"ds:{etree.QName(parent).localname} must have exactly one ds:{local}, "
            f"found {len(found)}"
        )
    return found[0]


def _elements(parent: etree._Element) -> list[etree._Element]:
    """Element children, skipping comments and processing instructions."""
    return [c for c in parent if isinstance(c.tag, str)]


def _text(el: etree._Element) -> str:
    return "".join(t if isinstance(t, str) else t.decode() for t in el.itertext())


def _b64(el: etree._Element, what: str) -> bytes:
    try:
        return base64.b64decode("".join(_text(el).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _structure(f"{what} is not valid base64") from exc


def verify_enveloped(root: etree._Element, *, policy: SignaturePolicy) -> VerifiedSignature:
    """Verify the enveloped signature of an SMP document and return who signed it.

    Checks in order: structure (one Signature, last child of a known SMP root, one Reference
    ``URI=""``, only enveloped + c14n transforms, no ds:Object), algorithms against ``policy``,
    the certificate is readable, the document digest, the signature value. Each failure raises
    ``InvalidSignature`` with ``step`` set to "structure", "certificate", "digest" or
    "signature-value", or ``AlgorithmNotAllowed`` (step "algorithm").

    It does not check the certificate's chain or dates: that is :mod:`peppolnet.pki`'s job.
    """
    if not isinstance(root.tag, str) or root.tag not in SIGNED_ROOT_TAGS:
        raise _structure(f"the root element {root.tag!r} is not one that carries an SMP signature")
    if root.getparent() is not None:
        raise _structure("the signed element must be the document's root element")
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        raise InvalidSignature("the document is not signed (no ds:Signature)", step="structure")
    if len(signatures) != 1:
        raise _structure(f"the document has {len(signatures)} ds:Signature elements, expected 1")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise _structure("ds:Signature is not a direct child of the document root")
    if _elements(root)[-1] is not signature:
        raise _structure("ds:Signature is not the last element of the document root")

    children = _elements(signature)
    names = [
        etree.QName(c).localname if c.tag.startswith(f"{{{DS_NS}}}") else c.tag for c in children
    ]
    if names[:2] != ["SignedInfo", "SignatureValue"] or any(
        n not in ("KeyInfo",) for n in names[2:]
    ):
        raise _structure(
            "ds:Signature must hold SignedInfo, SignatureValue and KeyInfo only, found "
            + ", ".join(names)
        )
    signed_info, signature_value_el = children[0], children[1]
    key_infos = children[2:]
    if len(key_infos) != 1:
        raise _structure("ds:Signature must have exactly one ds:KeyInfo with the certificate")

    si_children = _elements(signed_info)
    si_names = [etree.QName(c).localname for c in si_children]
    if si_names != ["CanonicalizationMethod", "SignatureMethod", "Reference"] or any(
        not c.tag.startswith(f"{{{DS_NS}}}") for c in si_children
    ):
        raise _structure(
            "ds:SignedInfo must be CanonicalizationMethod, SignatureMethod and exactly one "
            "Reference, found " + ", ".join(si_names)
        )
    c14n_el, sig_method_el, reference = si_children
    c14n_method = c14n_el.get("Algorithm", "")
    signature_method = sig_method_el.get("Algorithm", "")
    if reference.get("URI") != "":
        raise _structure('the ds:Reference must have URI="" (the whole document)')

    ref_children = _elements(reference)
    ref_names = [etree.QName(c).localname for c in ref_children]
    if ref_names not in (["Transforms", "DigestMethod", "DigestValue"],):
        raise _structure(
            "ds:Reference must be Transforms, DigestMethod, DigestValue, found "
            + ", ".join(ref_names)
        )
    transforms_el, digest_method_el, digest_value_el = ref_children
    transforms = _elements(transforms_el)
    algorithms = [t.get("Algorithm", "") for t in transforms]
    if not algorithms or algorithms[0] != ENVELOPED_SIGNATURE:
        raise _structure("the first transform must be the enveloped-signature transform")
    digest_c14n = INCLUSIVE_C14N_1_0  # XMLDSig default for a node-set -> octets
    digest_prefixes: list[str] | None = None
    if len(algorithms) == 2 and algorithms[1] in C14N_METHODS:
        digest_c14n = algorithms[1]
        digest_prefixes = _inclusive_prefixes(transforms[1])
    elif len(algorithms) != 1:
        raise _structure(
            "only the enveloped-signature transform and one C14N transform are allowed, found "
            + ", ".join(algorithms)
        )
    digest_method = digest_method_el.get("Algorithm", "")

    if c14n_method not in C14N_METHODS:
        raise AlgorithmNotAllowed(
            f"canonicalization method {c14n_method!r} is not supported", step="algorithm"
        )
    if signature_method not in policy.allowed_signature_methods:
        raise AlgorithmNotAllowed(
            f"signature method {signature_method!r} is not allowed by the network's policy",
            step="algorithm",
        )
    if digest_method not in policy.allowed_digest_methods:
        raise AlgorithmNotAllowed(
            f"digest method {digest_method!r} is not allowed by the network's policy",
            step="algorithm",
        )

    certificates = _certificates(key_infos[0])

    # --- digest over the document without the signature -----------------------------------
    signed_root = _without_signature(root)
    document_c14n = _canonicalize(signed_root, digest_c14n, digest_prefixes, whole_document=True)
    digest = hashlib.new(_DIGEST_HASH[digest_method], document_c14n).digest()
    expected = _b64(digest_value_el, "ds:DigestValue")
    if digest != expected:
        raise InvalidSignature(
            "the document digest does not match ds:DigestValue: the signed content was changed "
            "(or re-formatted) after signing",
            step="digest",
        )

    # --- signature value over SignedInfo ---------------------------------------------------
    signed_info_c14n = _canonicalize(
        signed_info, c14n_method, _inclusive_prefixes(c14n_el), whole_document=False
    )
    signature_value = _b64(signature_value_el, "ds:SignatureValue")
    _check_signature_value(
        certificates[0], signature_value, signed_info_c14n, _SIGNATURE_HASH[signature_method]
    )
    return VerifiedSignature(
        certificate=certificates[0],
        signature_method=signature_method,
        digest_method=digest_method,
        c14n_method=c14n_method,
        signed_root=signed_root,
        extra_certificates=tuple(certificates[1:]),
    )


def _inclusive_prefixes(method_el: etree._Element) -> list[str] | None:
    """The ``InclusiveNamespaces PrefixList`` of an exclusive C14N method, if any."""
    for child in method_el:
        if isinstance(child.tag, str) and etree.QName(child).localname == "InclusiveNamespaces":
            return (child.get("PrefixList") or "").split()
    return None


def _certificates(key_info: etree._Element) -> list[x509.Certificate]:
    from cryptography import x509

    ders = [_b64(el, "ds:X509Certificate") for el in key_info.iter(f"{{{DS_NS}}}X509Certificate")]
    if not ders:
        raise InvalidSignature(
            "ds:KeyInfo has no X509Data/X509Certificate with the signing certificate",
            step="certificate",
        )
    certs = []
    for der in ders:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise InvalidSignature(
                f"the certificate in ds:KeyInfo cannot be read: {exc}", step="certificate"
            ) from exc
    return certs


def _check_signature_value(
    certificate: x509.Certificate, value: bytes, data: bytes, hash_name: str
) -> None:
    from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise AlgorithmNotAllowed(
            f"the signing certificate has a {type(key).__name__}; RSA is required for the "
            "declared signature method",
            step="algorithm",
        )
    algorithm: hashes.HashAlgorithm = {
        "sha1": hashes.SHA1(),  # noqa: S303 - reachable only via SignaturePolicy.legacy()
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[hash_name]
    try:
        key.verify(value, data, padding.PKCS1v15(), algorithm)
    except CryptoInvalidSignature:
        raise InvalidSignature(
            "the signature value does not match ds:SignedInfo and the certificate's key",
            step="signature-value",
        ) from None


def _without_signature(root: etree._Element) -> etree._Element:
    """A copy of the document with the ds:Signature removed, as the enveloped transform says.

    The signature's tail text belongs to the parent's content (it is a separate text node in the
    XPath data model), so it is kept.
    """
    clone = copy.deepcopy(root)
    for sig in list(clone.iter(_SIGNATURE)):
        parent = sig.getparent()
        assert parent is not None
        tail = sig.tail
        previous = sig.getprevious()
        parent.remove(sig)
        if tail:
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
    return clone


def _detached(el: etree._Element, extra_attrib: dict[str, str]) -> etree._Element:
    """A stand-alone copy of ``el`` declaring every namespace in scope at ``el``.

    This is the fix for the trap in FACTS.md §3.6: lxml's C14N of a subtree in place emits
    bogus ``xmlns=""`` on descendants when a default namespace is inherited, so the bytes differ
    from what every other implementation signs. A fresh root with the full in-scope ``nsmap``
    canonicalises correctly (inclusive: all in-scope declarations; exclusive: the used ones).
    """
    clone = etree.Element(el.tag, nsmap=el.nsmap)  # type: ignore[arg-type]
    for name, value in el.attrib.items():
        clone.set(name, value)
    for name, value in extra_attrib.items():
        clone.set(name, value)
    clone.text = el.text
    for child in el:
        clone.append(copy.deepcopy(child))
    return clone


def _canonicalize(
    el: etree._Element, method: str, prefixes: list[str] | None, *, whole_document: bool
) -> bytes:
    """C14N (without comments) of a whole document or of one subtree in its context."""
    exclusive = method == EXCLUSIVE_C14N
    if whole_document:
        # C14N 1.1 differs from 1.0 only for xml:id / xml:base inherited into a document
        # *subset*; the whole document is not a subset, so the output is identical.
        return etree.tostring(
            el.getroottree(),
            method="c14n",
            exclusive=exclusive,
            with_comments=False,
            inclusive_ns_prefixes=prefixes if exclusive else None,
        )
    inherited: dict[str, str] = {}
    if not exclusive:
        # Inclusive C14N of a subset carries xml:* attributes inherited from ancestors.
        ancestor = el.getparent()
        while ancestor is not None:
            for name, value in ancestor.attrib.items():
                key, val = str(name), str(value)
                if key.startswith(f"{{{XML_NS}}}") and key not in inherited:
                    inherited[key] = val
            ancestor = ancestor.getparent()
        for name in list(inherited):
            if name in el.attrib:
                del inherited[name]
        if method == C14N_1_1:
            inherited.pop(f"{{{XML_NS}}}id", None)
            if f"{{{XML_NS}}}base" in inherited:
                raise InvalidSignature(
                    "xml:base above ds:SignedInfo with C14N 1.1 is not supported",
                    step="structure",
                )
    return etree.tostring(
        _detached(el, inherited),
        method="c14n",
        exclusive=exclusive,
        with_comments=False,
        inclusive_ns_prefixes=prefixes if exclusive else None,
    )
