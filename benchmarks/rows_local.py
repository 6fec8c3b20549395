"""The rows that need no network: verify, identifiers, start-up, sandbox start.

Each compares two things timed interleaved in the same run (``_common.interleaved``) and
reports the median of the rounds with their spread.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Row, Sample, interleaved, per_call, ratio_sample, row


def _signed_document() -> tuple[bytes, bytes, Any, Any]:
    """One sandbox-signed ServiceMetadata (``bench_verify.DOC``), the same document with a real
    access point certificate as its endpoint's (``with_endpoint_certificate``), signed the same
    way, their signer and the sandbox's PKI."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from lxml import etree

    from bench_verify import DOC, with_endpoint_certificate
    from peppolnet.sandbox.pki import TestPki
    from peppolnet.sandbox.runtime import default_key_dir
    from peppolnet.sandbox.signing import sign_enveloped

    pki = TestPki.load_or_create(default_key_dir())
    smp = pki.issue_smp_certificate("PBE000001", "Bench SMP", "BE")
    ap = pki.issue_ap_certificate("PBE000001", "Bench AP", "BE").certificate
    signed = []
    for document in (DOC, with_endpoint_certificate(ap.public_bytes(Encoding.DER))):
        root = etree.fromstring(document)
        sign_enveloped(root, smp.private_key, smp.certificate)
        signed.append(etree.tostring(root))
    return signed[0], signed[1], smp, pki


def verify_floor(data: bytes, certificate: Any) -> Callable[[], object]:
    """What no verifier can skip, timed alone: the document's C14N (after the enveloped
    transform) and its SHA-256 digest, SignedInfo's C14N and the RSA verification. Parsing,
    the certificate and the chain are left out. Checked once, so the floor is a real one."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    signed = etree.fromstring(data)
    signed_info = signed.find(f"{ds}Signature/{ds}SignedInfo")
    value = base64.b64decode(signed.findtext(f"{ds}Signature/{ds}SignatureValue") or "")
    expected = base64.b64decode(signed.findtext(f".//{ds}DigestValue") or "")
    unsigned = etree.fromstring(data)
    unsigned.remove(unsigned.find(f"{ds}Signature"))
    key = certificate.public_key()
    sha256, pkcs1 = hashes.SHA256(), padding.PKCS1v15()

    def floor() -> object:
        document = etree.tostring(unsigned, method="c14n")
        if hashlib.sha256(document).digest() != expected:
            raise AssertionError("the floor's digest does not match")
        key.verify(value, etree.tostring(signed_info, method="c14n"), pkcs1, sha256)
        return None

    floor()  # raises if the floor does not verify what was signed
    return floor


def bench_verify(quick: bool) -> list[Row]:
    """Parse + verify + chain check of one signed ServiceMetadata vs signxml on the same bytes
    and vs the floor; process CPU per call (``per_call``), rounds interleaved."""
    import signxml

    from peppolnet.network import Network
    from peppolnet.pki import validate_chain
    from peppolnet.smp.trust import check_document
    from peppolnet.xmldsig import SignaturePolicy, verify_bytes

    data, real, smp, pki = _signed_document()
    policy = SignaturePolicy.strict()
    config = signxml.SignatureConfiguration(
        default_reference_c14n_method=signxml.CanonicalizationMethod.CANONICAL_XML_1_0
    )
    network = Network(name="bench", sml_zone="bench.test", smp_ca=(pki.smp_ca,),
                      ap_ca=(pki.ap_ca,), directory_url=None)  # fmt: skip

    def ours() -> object:
        return validate_chain(verify_bytes(data, policy=policy).certificate, [pki.smp_ca])

    def theirs() -> object:
        result = signxml.XMLVerifier().verify(data, x509_cert=smp.certificate, expect_config=config)
        validate_chain(smp.certificate, [pki.smp_ca])
        return result

    n = 60 if quick else 200
    samples = interleaved(
        {
            "ours": per_call(ours, n),
            "signxml": per_call(theirs, n),
            "floor": per_call(verify_floor(data, smp.certificate), n),
            "lookup_path": per_call(lambda: check_document(real, network), n),
        },
        rounds=5 if quick else 9,
    )
    return _verify_rows(samples)


def _verify_rows(s: dict[str, Sample]) -> list[Row]:
    vs_signxml = ratio_sample(s["signxml"], s["ours"])
    vs_floor = ratio_sample(s["ours"], s["floor"])
    us = {name: sample.median * 1e6 for name, sample in s.items()}
    return [
        row("verify vs signxml", f"{us['ours']:.0f} us", f"signxml {us['signxml']:.0f} us",
            vs_signxml.median, ">= 4x faster", vs_signxml.median >= 4.0,
            f"parse+verify+chain of one signed ServiceMetadata, process CPU; ratio spread "
            f"{vs_signxml.spread(digits=2)}x", ours_us=us["ours"], signxml_us=us["signxml"],
            ratios=vs_signxml.values),
        row("verify vs floor", f"{us['ours']:.0f} us", f"floor {us['floor']:.0f} us",
            vs_floor.median, "<= 1.5x the floor", vs_floor.median <= 1.5,
            f"floor: the two C14N + SHA-256 + RSA verify alone; ratio spread "
            f"{vs_floor.spread(digits=2)}x", floor_us=us["floor"], ratios=vs_floor.values),
        row("verify (lookup path)", f"{us['lookup_path']:.0f} us",
            f"signxml {us['signxml']:.0f} us", s["signxml"].median / s["lookup_path"].median,
            "context", None,
            "check_document: parse+verify+chain+SMP model+signer facts, fresh cert each call; "
            "its own document: the verify rows' ServiceMetadata with a real access point "
            "certificate (TestPki, base64 DER) as its endpoint's, signed the same way",
            check_document_us=us["lookup_path"]),
    ]  # fmt: skip


# --- identifiers ---------------------------------------------------------------------------------

#: The schemes of the bench's identifiers and python-stdnum's module for each (what
#: peppolnet.schemes itself delegates the arithmetic to).
STDNUM: dict[str, str] = {
    "0007": "se.orgnr",
    "0088": "ean",
    "0184": "dk.cvr",
    "0192": "no.orgnr",
    "0208": "be.vat",
}
_DIGITS = {"0007": 10, "0184": 8, "0192": 9, "0208": 10}


def scheme_identifiers(count: int, seed: int = 8) -> list[str]:
    """Distinct identifiers of schemes python-stdnum validates: 40% valid GLNs, the rest random
    numbers of the other schemes' length (about one in ten of those valid)."""
    from _sandbox_proc import gln

    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        if i % 5 < 2:
            out.append(f"0088:{gln(1_000_000 + i)}")
        else:
            scheme = rng.choice(sorted(_DIGITS))
            out.append(
                f"{scheme}:" + "".join(rng.choice("0123456789") for _ in range(_DIGITS[scheme]))
            )
    return out


def bench_identifiers(quick: bool) -> list[Row]:
    """``validate()`` against python-stdnum's bare ``is_valid`` on the same numbers, in process
    CPU: both sides are single-threaded work of a few microseconds per id, and wall time also
    counted the time the process waited for a core on a shared machine (the busier the machine,
    the more the larger side lost: 3.71x in one full run, under 3x in quieter ones)."""
    from peppolnet.schemes import validate

    ids = scheme_identifiers(10_000 if quick else 20_000)
    modules = {icd: importlib.import_module(f"stdnum.{name}") for icd, name in STDNUM.items()}
    bare = [(modules[text[:4]].is_valid, text[5:]) for text in ids]
    validate("0088:7300010000001")  # warm-up: code lists
    clear = getattr(sys.modules["peppolnet.schemes"], "_validate_text", None)

    def ours() -> float:
        if clear is not None and hasattr(clear, "cache_clear"):
            clear.cache_clear()  # distinct ids: every round validates, none is a cache hit
        start = time.process_time()
        valid = sum(validate(text).valid for text in ids)
        elapsed = time.process_time() - start
        assert valid == expected
        return elapsed / len(ids)

    def theirs() -> float:
        start = time.process_time()
        valid = sum(check(number) for check, number in bare)
        elapsed = time.process_time() - start
        assert valid == expected
        return elapsed / len(ids)

    expected = sum(check(number) for check, number in bare)
    s = interleaved({"ours": ours, "stdnum": theirs}, rounds=3 if quick else 5)
    ratio = ratio_sample(s["ours"], s["stdnum"])
    return [
        row("identifiers validate()", f"{1 / s['ours'].median:,.0f}/s",
            f"stdnum {1 / s['stdnum'].median:,.0f}/s", ratio.median, "<= 3x stdnum's",
            ratio.median <= 3.0,
            f"{len(ids)} distinct ids of {len(STDNUM)} schemes, {expected} valid, process CPU; "
            f"validate() also parses the id and finds its scheme; ratio spread "
            f"{ratio.spread(digits=2)}x",
            ours_us=s["ours"].median * 1e6, stdnum_us=s["stdnum"].median * 1e6,
            ratios=ratio.values),
    ]  # fmt: skip


# --- start-up ------------------------------------------------------------------------------------


def bench_startup(quick: bool) -> list[Row]:
    """``python -c pass``, ``import peppolnet`` and ``peppolnet --version``, interleaved."""
    scripts = Path(sys.executable).parent

    def run(*argv: str) -> Callable[[], float]:
        def measure() -> float:
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            return time.perf_counter() - start

        return measure

    base = run(sys.executable, "-c", "pass")
    s = interleaved(
        {"base": base, "import": run(sys.executable, "-c", "import peppolnet")},
        rounds=9 if quick else 21,
    )
    # the context row in rounds of its own, fewer: a CLI start costs ~5 interpreter starts,
    # and it took two thirds of the step in the target row's 21 rounds
    c = interleaved({"base": base, "cli": run(str(scripts / "peppolnet"), "--version")},
                    rounds=5 if quick else 7)  # fmt: skip
    imp, cli = ratio_sample(s["import"], s["base"]), ratio_sample(c["cli"], c["base"])
    base_ms = s["base"].median * 1e3
    return [
        row("import peppolnet", f"{s['import'].median * 1e3:.0f} ms",
            f"python -c pass {base_ms:.0f} ms", imp.median, "<= 1.6x python -c pass",
            imp.median <= 1.6, f"median of {len(imp.values)} interleaved rounds; ratio spread "
            f"{imp.spread(digits=2)}x", base_ms=base_ms, import_ms=s["import"].median * 1e3,
            ratios=imp.values),
        row("peppolnet --version", f"{c['cli'].median * 1e3:.0f} ms",
            f"python -c pass {c['base'].median * 1e3:.0f} ms", cli.median, "context", None,
            f"median of {len(cli.values)} interleaved rounds; ratio spread "
            f"{cli.spread(digits=2)}x", cli_ms=c["cli"].median * 1e3),
    ]  # fmt: skip


# --- sandbox start -------------------------------------------------------------------------------


def bench_sandbox_start(quick: bool) -> list[Row]:
    """Start + stop of the default sandbox network with cached keys: median and spread."""
    from peppolnet.sandbox.runtime import Sandbox

    def cycle() -> float:
        start = time.perf_counter()
        with Sandbox.start():
            pass
        return time.perf_counter() - start

    s = interleaved({"cycle": cycle}, rounds=3 if quick else 5)["cycle"]
    return [
        row("sandbox start+stop", f"{s.median:.2f} s", "", None, "< 2 s", s.median < 2.0,
            f"default network, keys cached; median of {len(s.values)}, "
            f"spread {s.spread(1, ' s', 2)}",
            samples=s.values),
    ]  # fmt: skip
