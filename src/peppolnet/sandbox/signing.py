"""Enveloped XML signing for the sandbox SMP, in the exact shape SMPs use (Peppol SMP specification
1.2 and W3C XML Signature 1.1).

Why not a general XMLDSig library: a sandbox signs thousands of documents, and the shape is fixed
(one Reference ``URI=""``, the enveloped-signature transform only, KeyInfo with the certificate).
So the digest is lxml's C14N of the document and the signature one ``cryptography`` call.

The document digest always uses inclusive C14N 1.0 (the XMLDSig default after the enveloped
transform); ``c14n`` only chooses how SignedInfo is canonicalised - the same split real SMPs
make, and the case verifiers must get right.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from peppolnet.xmldsig import (
    _DIGEST_HASH,
    _SIGNATURE_HASH,
    DS_NS,
    ENVELOPED_SIGNATURE,
    INCLUSIVE_C14N_1_0,
    RSA_SHA256,
    SHA256,
    _canonicalize,
)

__all__ = ["sign_enveloped"]

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(),  # noqa: S303 - only when a caller asks for legacy rsa-sha1
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _ds(parent: etree._Element, local: str, **attrib: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DS_NS}}}{local}", attrib)


def sign_enveloped(
    root: etree._Element,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    *,
    c14n: str = INCLUSIVE_C14N_1_0,
    signature_method: str = RSA_SHA256,
    digest_method: str = SHA256,
) -> etree._Element:
    """Sign ``root`` in place: append a ``ds:Signature`` as its last child and return ``root``.

    ``root`` must be the root element of its document (the Reference ``URI=""`` covers the whole
    document). Raises ``ValueError`` for unknown algorithm URIs or a non-root element.
    """
    if root.getparent() is not None:
        raise ValueError("sign_enveloped signs a whole document: pass its root element")
    if digest_method not in _DIGEST_HASH or signature_method not in _SIGNATURE_HASH:
        raise ValueError("unknown digest or signature method")
    document = etree.tostring(root.getroottree(), method="c14n", with_comments=False)
    digest = hashlib.new(_DIGEST_HASH[digest_method], document).digest()

    signature = etree.SubElement(root, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=c14n)
    _ds(signed_info, "SignatureMethod", Algorithm=signature_method)
    reference = _ds(signed_info, "Reference", URI="")
    transforms = _ds(reference, "Transforms")
    _ds(transforms, "Transform", Algorithm=ENVELOPED_SIGNATURE)
    _ds(reference, "DigestMethod", Algorithm=digest_method)
    _ds(reference, "DigestValue").text = base64.b64encode(digest).decode("ascii")
    value_el = _ds(signature, "SignatureValue")
    x509_data = _ds(_ds(signature, "KeyInfo"), "X509Data")
    _ds(x509_data, "X509SubjectName").text = certificate.subject.rfc4514_string()
    _ds(x509_data, "X509Certificate").text = base64.b64encode(
        certificate.public_bytes(serialization.Encoding.DER)
    ).decode("ascii")

    signed_info_c14n = _canonicalize(signed_info, c14n, None, whole_document=False)
    value = key.sign(
        signed_info_c14n, padding.PKCS1v15(), _HASHES[_SIGNATURE_HASH[signature_method]]
    )
    value_el.text = base64.b64encode(value).decode("ascii")
    return root
