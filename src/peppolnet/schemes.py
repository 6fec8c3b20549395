"""Per-scheme validation of participant identifiers: structure rules and check digits.

Why this exists: a syntactically fine identifier such as ``0007:5567321708`` is still wrong (its
Luhn check digit fails) and will never be found in the network. Catching that before a DNS or SMP
lookup saves a round trip and gives the user a precise reason.

Each ICD code of the Peppol code list maps to one :class:`_Rule`: a structure pattern (the
``RegEx:`` of the code list's ``validation-rules`` where there is one, otherwise a pattern taken
from the ``structure`` text, or none) and a check-digit validator. python-stdnum does the
arithmetic wherever it has a module; the few rules it lacks (Slovak IČO, Lithuanian company code,
Danish SE number, GS1 keys inside ICD 0209) are small functions here. :func:`coverage` lists, per
scheme, what is enforced and how.

Participant values are case-insensitive (PFUOI POLICY 2), so the local part is upper-cased before
checking and every pattern is applied case-insensitively.

>>> from peppolnet.schemes import validate
>>> validate("0007:5567321707").valid
True
>>> [p.code for p in validate("0007:5567321708").problems]
['check-digit']
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, Literal

from peppolnet.codelists import (
    ParticipantScheme,
    SchemeState,
    code_list_version,
    participant_schemes,
)
from peppolnet.errors import InvalidInput, InvalidParticipantId
from peppolnet.i18n import _, country_code
from peppolnet.identifiers import PARTICIPANT_SCHEME, ParticipantId

__all__ = [
    "CoverageRow",
    "Problem",
    "Suggestions",
    "ValidationResult",
    "country_of",
    "coverage",
    "is_valid",
    "suggest_participant_ids",
    "validate",
]

Severity = Literal["error", "warning"]
ProblemCode = Literal[
    "syntax", "unknown-scheme", "removed-scheme", "deprecated-scheme", "structure", "check-digit"
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an identifier. ``deprecated-scheme`` is a warning, all else errors."""

    code: ProblemCode
    message: str
    severity: Severity = "error"


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Every problem found with one participant identifier (not just the first)."""

    input: str
    participant: ParticipantId | None
    scheme: ParticipantScheme | None
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        """True when no problem is an error (warnings such as a deprecated scheme are allowed)."""
        # no problems, no generator: read once per identifier in bulk runs, where the generator
        # was a tenth of validate()'s own cost above python-stdnum's
        return not self.problems or all(p.severity != "error" for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that make the identifier invalid."""
        return tuple(p for p in self.problems if p.severity == "error")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``peppolnet id check --json``."""
        return {
            "input": self.input,
            "valid": self.valid,
            "participant_id": None if self.participant is None else self.participant.uri,
            "scheme": None if self.scheme is None else self.scheme.icd,
            "scheme_state": None if self.scheme is None else self.scheme.state.value,
            "problems": [p.message for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """What :func:`validate` enforces for one scheme."""

    icd: str
    scheme_id: str
    state: SchemeState
    structure_enforced: bool
    check_digits_enforced: bool
    how: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "icd": self.icd,
            "scheme_id": self.scheme_id,
            "state": self.state.value,
            "structure_enforced": self.structure_enforced,
            "check_digits_enforced": self.check_digits_enforced,
            "how": self.how,
        }


@dataclass(frozen=True, slots=True)
class Suggestions:
    """Candidate participant ids for a number as people type it, most likely first.

    Iterates, indexes and has ``len`` like its ``candidates``; ``reason`` says why it is empty.
    """

    number: str
    country: str
    candidates: tuple[ParticipantId, ...] = ()
    reason: str | None = None

    def __iter__(self) -> Iterator[ParticipantId]:
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: int) -> ParticipantId:
        return self.candidates[index]


# --- check-digit functions -----------------------------------------------------------------------
#
# A check takes the upper-cased local part (already matching the structure pattern, if any) and
# returns None when fine, or (problem code, detail) when not.

CheckResult = tuple[ProblemCode, str] | None
Check = Callable[[str], CheckResult]


@functools.cache
def _stdnum(name: str) -> ModuleType:
    """Import a python-stdnum module once (lazily: most schemes are never used in a run)."""
    return importlib.import_module(f"stdnum.{name}")


@functools.cache
def _stdnum_errors() -> tuple[type[Exception], type[Exception]]:
    from stdnum.exceptions import InvalidChecksum, ValidationError

    return InvalidChecksum, ValidationError


# python-stdnum's sentences (its exceptions' fixed messages), in the reader's language.
_STDNUM_MESSAGES: Final = {
    "The number has an invalid length": _("the number has the wrong length"),
    "The number has an invalid format": _("the number has the wrong format"),
    "One of the parts of the number are invalid or unknown": _(
        "a part of the number is invalid or unknown"
    ),
    "The number's checksum or check digit is invalid": _("the check digit does not match"),
}


def _run_stdnum(module: str, value: str) -> CheckResult:
    checksum_error, validation_error = _stdnum_errors()
    try:
        _stdnum(module).validate(value)
    except checksum_error:
        return "check-digit", ""
    except validation_error as exc:
        text = str(exc).rstrip(".")
        return "structure", _STDNUM_MESSAGES.get(text, text)
    except Exception as exc:  # stdnum may fail on odd input in other ways; never leak it
        return "structure", type(exc).__name__
    return None


def _std(module: str, *, strip: tuple[str, ...] = (), part: slice | None = None) -> Check:
    """Validate with ``stdnum.<module>``, optionally after removing a prefix or taking a slice."""

    def check(local: str) -> CheckResult:
        value = local
        for prefix in strip:
            if value.startswith(prefix):
                value = value[len(prefix) :]
                break
        if part is not None:
            value = value[part]
        return _run_stdnum(module, value)

    return check


def _digits_weighted_mod11(weights: tuple[int, ...]) -> Check:
    """``sum(w * d) % 11 == 0`` over the trailing digits (the check digit has weight 1)."""

    def check(local: str) -> CheckResult:
        digits = local[-len(weights) :]
        if not digits.isdigit():
            return "structure", _("digits expected")
        if sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11:
            return "check-digit", ""
        return None

    return check


def _slovak_ico(local: str) -> CheckResult:
    """SK IČO: mod 11 with weights 8..2; remainder 0 gives 1, remainder 1 gives 0."""
    total = sum(w * int(d) for w, d in zip(range(8, 1, -1), local[:7], strict=True))
    expected = (11 - total % 11) % 10 if total % 11 not in (0, 1) else (1 - total % 11)
    return None if int(local[7]) == expected else ("check-digit", "")


def _lithuanian_company_code(local: str) -> CheckResult:
    """LT legal entity code: weights 1..8 mod 11; on remainder 10 weights 3..10 (standard LT)."""
    digits = [int(d) for d in local[:8]]
    remainder = sum(w * d for w, d in zip(range(1, 9), digits, strict=True)) % 11
    if remainder == 10:
        weights = (3, 4, 5, 6, 7, 8, 9, 1)
        remainder = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if remainder == 10:
            remainder = 0
    return None if int(local[8]) == remainder else ("check-digit", "")


def _siren_or_siret(local: str) -> CheckResult:
    return _run_stdnum("fr.siren" if len(local) == 9 else "fr.siret", local)


_OVT_RE: Final = re.compile(r"(0037)?([0-9]{7})-?([0-9])([0-9A-Z]{0,5})")


def _finnish_ovt(local: str) -> CheckResult:
    """0037 (FI:OVT): the 8-digit business id inside, with or without the 0037 prefix."""
    tries = []
    match = _OVT_RE.fullmatch(local)
    if match:
        tries.append(match.group(2) + match.group(3))
    if local[:8].isdigit():
        tries.append(local[:8])
    results = [_run_stdnum("fi.ytunnus", t) for t in tries]
    if any(r is None for r in results):
        return None
    return results[0] if results else ("structure", _("no business id found"))


# GS1 application identifiers whose value is a GLN (410-417) or a GTIN (01, 02): mod-10 keys.
_GS1_KEY_AIS: Final = frozenset(
    {"01", "02", "410", "411", "412", "413", "414", "415", "416", "417"}
)


def _gs1_keys(local: str) -> CheckResult:
    """ICD 0209: parse the element string, then check every GLN/GTIN key's check digit.

    stdnum's gs1_128 only parses the application identifiers; it does not check the GLN inside.
    """
    try:
        info = _stdnum("gs1_128").info(local)
    except Exception as exc:  # malformed element strings raise stdnum (or other) errors
        return "structure", _("not a GS1 element string ({error})", error=type(exc).__name__)
    for ai, value in info.items():
        if ai in _GS1_KEY_AIS:
            result = _run_stdnum("ean", str(value))
            if result is not None:
                return result[0], _("GS1 key in AI ({ai})", ai=ai)
    return None


def _singapore_uen(local: str) -> CheckResult:
    """0195: ``SGUEN`` + the UEN; other prefixes (test identifiers) are structure-only."""
    if local.startswith("SGUEN"):
        return _run_stdnum("sg.uen", local[5:])
    return None


def _latvian_urn(local: str) -> CheckResult:
    return _run_stdnum("lv.pvn", local) if len(local) == 11 else None


def _eu_vat(local: str) -> CheckResult:
    """9912 (EU:VAT): check the number when its prefix is an EU member state."""
    prefix = local[:2].lower()
    if prefix in ("el", "xi") or prefix in _stdnum("eu.vat").MEMBER_STATES:
        return _run_stdnum("eu.vat", local)
    return None


def _italian_fti(local: str) -> CheckResult:
    """0097: the first 11 digits are a partita IVA (Luhn, Gazzetta Ufficiale 345/1976)."""
    return _run_stdnum("it.iva", local[:11])


# --- the rule table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str] | None
    pattern_how: str
    check: Check | None
    check_how: str  # e.g. "stdnum se.orgnr"
    algorithm: str  # short name for messages, e.g. "Luhn"
    # Problems that name only the scheme's own facts, made once with the table instead of per
    # identifier (a message costs about as much as python-stdnum's whole check of a number)
    state_problems: tuple[Problem, ...]  # removed or deprecated scheme
    digit_problem: Problem  # a check digit that does not match, no detail
    digits: bool = True  # the check includes check-digit arithmetic, not only the format
    suggest: bool = field(default=False)  # usable in the generic suggestion fallback


@dataclass(frozen=True, slots=True)
class _Spec:
    """Hand-curated part of a rule; the pattern defaults to the code list's RegEx."""

    check: Check | None = None
    how: str = ""
    algorithm: str = ""
    pattern: str | None = None  # overrides the code list
    pattern_note: str = ""
    digits: bool = True  # False: stdnum checks the format only (the number has no check digit)


def _vat(
    module: str, cc: str, algorithm: str = "VAT check digit", *alt: str, digits: bool = True
) -> _Spec:
    """A 99xx VAT scheme: alphanumeric, country prefix optional, stdnum does the arithmetic."""
    return _Spec(
        _std(module, strip=(cc, *alt)),
        f"stdnum {module}",
        algorithm,
        pattern=r"[0-9A-Z]{2,20}",
        pattern_note="alphanumeric (peppolnet)",
        digits=digits,
    )


_LUHN: Final = "Luhn"
_MOD11: Final = "mod 11"
_MOD97: Final = "mod 97"

_SPECS: Final[dict[str, _Spec]] = {
    "0002": _Spec(_siren_or_siret, "stdnum fr.siren / fr.siret", _LUHN),
    "0007": _Spec(_std("se.orgnr"), "stdnum se.orgnr", _LUHN),
    "0009": _Spec(_std("fr.siret"), "stdnum fr.siret", _LUHN),
    "0037": _Spec(_finnish_ovt, "stdnum fi.ytunnus on the business id", _MOD11),
    "0088": _Spec(_std("ean"), "stdnum ean (GLN)", "mod 10"),
    "0097": _Spec(_italian_fti, "stdnum it.iva on the first 11 digits", _LUHN),
    "0106": _Spec(
        pattern=r"[0-9]{8}|[0-9]{17}",
        pattern_note="code list [0-9]{17} plus the 8-digit KvK numbers used in practice",
    ),
    "0135": _Spec(pattern=r"[0-9]+", pattern_note="digits (structure text)"),
    "0142": _Spec(pattern=r"[0-9]+", pattern_note="digits (structure text)"),
    "0151": _Spec(_std("au.abn"), "stdnum au.abn", "mod 89"),
    "0158": _Spec(_slovak_ico, "peppolnet (weights 8..2)", _MOD11),
    "0183": _Spec(_std("ch.uid"), "stdnum ch.uid", _MOD11),
    "0184": _Spec(_std("dk.cvr"), "stdnum dk.cvr", _MOD11),
    "0188": _Spec(
        _std("jp.cn"), "stdnum jp.cn", "mod 9", pattern=r"[0-9]{13}", pattern_note="13 digits"
    ),
    "0191": _Spec(_std("ee.registrikood"), "stdnum ee.registrikood", _MOD11),
    "0192": _Spec(_std("no.orgnr"), "stdnum no.orgnr", _MOD11),
    "0195": _Spec(_singapore_uen, "stdnum sg.uen after SGUEN", "UEN check letter"),
    "0196": _Spec(_std("is_.kennitala"), "stdnum is_.kennitala", _MOD11),
    "0198": _Spec(_digits_weighted_mod11((2, 7, 6, 5, 4, 3, 2, 1)), "peppolnet", _MOD11),
    "0199": _Spec(_std("lei"), "stdnum lei", "mod 97-10"),
    "0200": _Spec(_lithuanian_company_code, "peppolnet (weights 1..8)", _MOD11),
    "0204": _Spec(_std("de.leitweg"), "stdnum de.leitweg", "mod 97-10"),
    "0205": _Spec(pattern=r"[0-9A-Z]{7}", pattern_note="7 alphanumerics (structure text)"),
    "0208": _Spec(_std("be.vat"), "stdnum be.vat", _MOD97),
    "0209": _Spec(_gs1_keys, "stdnum gs1_128 + ean on GLN/GTIN keys", "mod 10"),
    "0210": _Spec(
        _std("it.codicefiscale"),
        "stdnum it.codicefiscale",
        "codice fiscale check",
        pattern=r"[0-9]{11}|[0-9A-Z]{16}",
        pattern_note="11 digits or 16 alphanumerics (structure text)",
    ),
    "0211": _Spec(_std("it.iva", strip=("IT",)), "stdnum it.iva", _LUHN),
    "0212": _Spec(
        _std("fi.ytunnus"),
        "stdnum fi.ytunnus",
        _MOD11,
        pattern=r"[0-9]{7}-[0-9]",
        pattern_note="9999999-9 (structure text)",
    ),
    "0213": _Spec(
        _std("fi.alv"), "stdnum fi.alv", _MOD11, pattern=r"FI[0-9]{8}", pattern_note="FI99999999"
    ),
    "0215": _Spec(pattern=r"[0-9A-Z]+", pattern_note="letters and digits (repertoire)"),
    "0216": _Spec(
        _std("fi.ytunnus", part=slice(4, 12)),
        "stdnum fi.ytunnus on the business id",
        _MOD11,
        pattern=r"0037[0-9]{8}[0-9A-Z]{0,5}",
        pattern_note="0037 + 8 digits + up to 5 (structure text)",
    ),
    "0218": _Spec(_latvian_urn, "stdnum lv.pvn (11-digit numbers)", _MOD11),
    "0221": _Spec(
        _std("jp.cn", part=slice(1, None)),
        "stdnum jp.cn after T",
        "mod 9",
        pattern=r"T[0-9]{13}",
        pattern_note="T + 13 digits (structure text)",
    ),
    "9902": _Spec(_std("dk.cvr"), "stdnum dk.cvr", _MOD11),
    "9904": _Spec(_digits_weighted_mod11((2, 7, 6, 5, 4, 3, 2, 1)), "peppolnet", _MOD11),
    "9906": _Spec(_std("it.iva", strip=("IT",)), "stdnum it.iva", _LUHN),
    "9907": _Spec(_std("it.codicefiscale"), "stdnum it.codicefiscale", "codice fiscale check"),
    "9908": _Spec(_std("no.orgnr"), "stdnum no.orgnr", _MOD11),
    "9909": _Spec(
        _std("no.mva"),
        "stdnum no.mva",
        _MOD11,
        pattern=r"(NO)?[0-9]{9}MVA",
        pattern_note="code list NO[0-9]{9}MVA, NO optional as in the code list's example",
    ),
    "9910": _Spec(_std("hu.anum", strip=("HU",)), "stdnum hu.anum", "weighted mod 10"),
    "9912": _Spec(_eu_vat, "stdnum eu.vat (EU prefixes)", "VAT check digit"),
    "9914": _Spec(
        _std("at.uid", strip=("AT",)),
        "stdnum at.uid",
        "UID check digit",
        pattern=r"(AT)?U[0-9]{8}",
        pattern_note="ATU + 8 digits",
    ),
    "9917": _Spec(_std("is_.kennitala"), "stdnum is_.kennitala", _MOD11),
    "9918": _Spec(_std("iban"), "stdnum iban", _MOD97),
    "9919": _Spec(
        pattern=r"[A-Z][0-9]{3}[A-Z][0-9]{3}[A-Z]", pattern_note="letter/3 digits x2/letter"
    ),
    "9920": _vat("es.nif", "ES"),
    "9922": _vat("ad.nrt", "AD", "format", digits=False),
    "9923": _vat("al.nipt", "AL", "format", digits=False),
    "9925": _vat("be.vat", "BE", _MOD97),
    "9926": _vat("bg.vat", "BG"),
    "9927": _Spec(
        _std("ch.vat"),
        "stdnum ch.vat",
        _MOD11,
        pattern=r"CHE[0-9]{9}(MWST|TVA|IVA)?",
        pattern_note="CHE + 9 digits + MWST/TVA/IVA",
    ),
    "9928": _vat("cy.vat", "CY"),
    "9929": _vat("cz.dic", "CZ"),
    "9930": _vat("de.vat", "DE", _MOD11),
    "9931": _vat("ee.kmkr", "EE"),
    "9932": _vat("gb.vat", "GB"),
    "9933": _vat("gr.vat", "EL", "VAT check digit", "GR"),
    "9934": _vat("hr.oib", "HR"),
    "9935": _vat("ie.vat", "IE"),
    "9937": _vat("lt.pvm", "LT"),
    "9938": _vat("lu.tva", "LU"),
    "9939": _vat("lv.pvn", "LV"),
    "9940": _vat("mc.tva", "FR", "VAT check digit", "MC"),
    "9941": _vat("me.pib", "ME"),
    "9942": _vat("mk.edb", "MK"),
    "9943": _vat("mt.vat", "MT"),
    "9944": _vat("nl.btw", "NL"),
    "9945": _vat("pl.nip", "PL"),
    "9946": _vat("pt.nif", "PT"),
    "9947": _vat("ro.cf", "RO"),
    "9948": _vat("rs.pib", "RS"),
    "9949": _vat("si.ddv", "SI"),
    "9950": _vat("sk.dph", "SK"),
    "9951": _vat("sm.coe", "SM", "format", digits=False),
    "9952": _vat("tr.vkn", "TR"),
    "9955": _vat("se.vat", "SE", _LUHN),
    "9956": _Spec(_std("be.vat"), "stdnum be.vat", _MOD97),
    "9957": _vat("fr.tva", "FR"),
    "9958": _Spec(_std("de.leitweg"), "stdnum de.leitweg", "mod 97-10"),
    "9959": _Spec(
        _std("us.ein"),
        "stdnum us.ein",
        "EIN prefix",
        pattern=r"[0-9]{2}-?[0-9]{7}",
        pattern_note="9 digits",
        digits=False,
    ),
}

# Patterns too loose to tell one scheme from another: never used to guess suggestions.
_FREE_FORM: Final = frozenset({"0193", "0225", "9912", "9915"})
# Pattern-only schemes that are still a country's main company register, so a number that fits
# the pattern is worth suggesting (8-digit Dutch KvK numbers have no check digit).
_SUGGEST_BY_PATTERN: Final = frozenset({"0106"})


def _build_rule(scheme: ParticipantScheme) -> _Rule:
    spec = _SPECS.get(scheme.icd, _Spec())
    if spec.pattern is not None:
        pattern_text: str | None = spec.pattern
        pattern_how = f"pattern {spec.pattern_note}"
    elif scheme.regex:
        pattern_text = scheme.regex
        pattern_how = "code list RegEx"
    else:
        pattern_text = None
        pattern_how = ""
    pattern = re.compile(pattern_text, re.IGNORECASE) if pattern_text else None
    algorithm = spec.algorithm or "check digit"
    digit_message = _(
        "check digit does not match ({scheme}, {algorithm})",
        scheme=scheme.scheme_id,
        algorithm=algorithm,
    )
    return _Rule(
        pattern=pattern,
        pattern_how=pattern_how,
        check=spec.check,
        check_how=spec.how,
        algorithm=algorithm,
        digits=spec.check is not None and spec.digits,
        suggest=(spec.check is not None and scheme.icd not in _FREE_FORM)
        or scheme.icd in _SUGGEST_BY_PATTERN,
        state_problems=_state_problems(scheme),
        digit_problem=Problem("check-digit", digit_message),
    )


def _state_problems(scheme: ParticipantScheme) -> tuple[Problem, ...]:
    """The problem of using a removed (error) or deprecated (warning) scheme at all."""
    icd, scheme_id = scheme.icd, scheme.scheme_id
    if scheme.state is SchemeState.REMOVED:
        if scheme.removal_date:
            removed = _(
                "scheme {icd} ({scheme}) was removed from Peppol on {date}",
                icd=icd,
                scheme=scheme_id,
                date=scheme.removal_date,
            )
        else:
            removed = _(
                "scheme {icd} ({scheme}) was removed from Peppol", icd=icd, scheme=scheme_id
            )
        return (Problem("removed-scheme", removed),)
    if scheme.state is SchemeState.DEPRECATED:
        deprecated = _(
            "scheme {icd} ({scheme}) is deprecated; do not use it for new participants",
            icd=icd,
            scheme=scheme_id,
        )
        return (Problem("deprecated-scheme", deprecated, "warning"),)
    return ()


@functools.cache
def _table() -> dict[str, tuple[ParticipantScheme, _Rule]]:
    """ICD -> (scheme, rule), built once."""
    return {s.icd: (s, _build_rule(s)) for s in participant_schemes()}


# --- validation -----------------------------------------------------------------------------------


def validate(participant: ParticipantId | str) -> ValidationResult:
    """Check a participant identifier against its scheme; list every problem found.

    Accepts a :class:`ParticipantId` or text in URI (``iso6523-actorid-upis::0007:...``) or bare
    (``0007:...``) form. Never raises for text input: malformed text gives a ``syntax`` problem.

    >>> r = validate("9955:SE556732170701")
    >>> r.valid, [p.code for p in r.problems]
    (False, ['removed-scheme'])
    """
    if isinstance(participant, ParticipantId):
        return _validate_pid(participant.uri, participant)
    if not isinstance(participant, str):
        raise InvalidParticipantId(
            _("a participant identifier must be text, not {kind}", kind=type(participant).__name__)
        )
    if len(participant) > _CACHED_TEXT_MAX:
        return _validate_uncached(participant)
    return _validate_text(participant)


def is_valid(participant: ParticipantId | str) -> bool:
    """Whether :func:`validate` finds no error (warnings allowed)."""
    try:
        return validate(participant).valid
    except InvalidParticipantId:
        return False


def _validate_uncached(text: str) -> ValidationResult:
    usual = ParticipantId._parse_usual(text)
    if usual is not None:  # four digits, a colon, the local part: nearly every identifier
        return _validate_icd(text, usual, usual.value[:4])
    try:
        pid = ParticipantId.parse(text)
    except InvalidParticipantId as exc:
        return ValidationResult(text, None, None, (Problem("syntax", exc.message),))
    return _validate_pid(text, pid)


# Results are immutable values, so repeated identifiers (a register's column validated in a
# loop) are served from cache. Bounded in bytes by its two numbers: only text that could be an
# identifier is kept (the longest is a 25-character scheme, "::" and a 135-character value,
# plus whitespace that parsing strips; a result holds its input), and at most 4,096 results.
# A result is ~360 bytes for a valid identifier and up to ~1.4 kB for refused text, whose
# problem carries its sentence (tracemalloc, 16,384 of each): at most ~6 MB (a test holds 8).
# Lookups validate a parsed ParticipantId, which never comes here.
_validate_text: Final = functools.lru_cache(maxsize=4096)(_validate_uncached)
_CACHED_TEXT_MAX: Final = 256


def _validate_pid(text: str, pid: ParticipantId) -> ValidationResult:
    icd = pid.icd
    if ParticipantId.case_insensitive_scheme(pid.scheme) is False or icd is None:
        message = _(
            "the identifier scheme {scheme} is not {expected}, so it has no Peppol participant "
            "scheme code",
            scheme=repr(pid.scheme),
            expected=repr(PARTICIPANT_SCHEME),
        )
        return ValidationResult(text, pid, None, (Problem("unknown-scheme", message),))
    return _validate_icd(text, pid, icd)


def _validate_icd(text: str, pid: ParticipantId, icd: str) -> ValidationResult:
    """The scheme's checks of an identifier of the iso6523 scheme whose ICD is ``icd``."""
    entry = _table().get(icd)
    if entry is None:
        message = _(
            "{icd} is not a participant identifier scheme of the Peppol code list v{version}",
            icd=icd,
            version=code_list_version(),
        )
        return ValidationResult(text, pid, None, (Problem("unknown-scheme", message),))
    scheme, rule = entry
    local = pid.value[5:].upper()
    if rule.pattern is not None and rule.pattern.fullmatch(local) is None:
        problem = Problem(
            "structure",
            _(
                "{value} does not have the structure of {scheme} ({pattern})",
                value=repr(local),
                scheme=scheme.scheme_id,
                pattern=rule.pattern.pattern,
            ),
        )
    elif rule.check is None or (outcome := rule.check(local)) is None:
        return ValidationResult(text, pid, scheme, rule.state_problems)
    elif outcome[0] == "check-digit" and not outcome[1]:
        problem = rule.digit_problem
    else:
        code, detail = outcome
        problem = Problem(code, _rule_problem(scheme, rule, local, code, detail))
    return ValidationResult(text, pid, scheme, (*rule.state_problems, problem))


def _rule_problem(
    scheme: ParticipantScheme, rule: _Rule, local: str, code: ProblemCode, detail: str
) -> str:
    """The sentence for a failed check of a scheme's rule: a check digit with a detail, or the
    structure (a check digit without one is the rule's ``digit_problem``, made once)."""
    if code == "check-digit" and detail:
        return _(
            "check digit does not match ({scheme}, {algorithm}; {detail})",
            scheme=scheme.scheme_id,
            algorithm=rule.algorithm,
            detail=detail,
        )
    if detail:
        return _(
            "{value} is not a valid {scheme} number: {detail}",
            value=repr(local),
            scheme=scheme.scheme_id,
            detail=detail,
        )
    return _(
        "{value} is not a valid {scheme} number",
        value=repr(local),
        scheme=scheme.scheme_id,
    )


def coverage() -> list[CoverageRow]:
    """Per scheme: whether the structure and the check digits are enforced, and how."""
    rows = []
    for scheme, rule in _table().values():
        parts = [p for p in (rule.pattern_how, rule.check_how) if p]
        if rule.check is not None and rule.check_how and rule.algorithm:
            parts[-1] = f"{rule.check_how} ({rule.algorithm})"
        rows.append(
            CoverageRow(
                icd=scheme.icd,
                scheme_id=scheme.scheme_id,
                state=scheme.state,
                structure_enforced=rule.pattern is not None or rule.check is not None,
                check_digits_enforced=rule.digits,
                how="; ".join(parts) or "none (the code list gives no rule)",
            )
        )
    return rows


# --- suggestions ----------------------------------------------------------------------------------

Template = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class _Source:
    """A way people write a number in one country: stdnum module -> candidate (icd, local)s."""

    module: str
    label: str
    targets: tuple[tuple[str, Template], ...]


def _same(n: str) -> str:
    return n


def _prefix(p: str) -> Template:
    return lambda n: p + n


_SOURCES: Final[dict[str, tuple[_Source, ...]]] = {
    "SE": (
        _Source("se.vat", _("Swedish VAT number"), (("0007", lambda n: n[:10]),)),
        _Source("se.orgnr", _("Swedish organisation number"), (("0007", _same),)),
    ),
    "NO": (
        _Source(
            "no.mva",
            _("Norwegian VAT number"),
            (("0192", lambda n: n[:9]), ("9909", _prefix("NO"))),
        ),
        _Source(
            "no.orgnr",
            _("Norwegian organisation number"),
            (("0192", _same), ("9909", lambda n: f"NO{n}MVA")),
        ),
    ),
    "BE": (
        _Source(
            "be.vat", _("Belgian enterprise number"), (("0208", _same), ("9925", _prefix("BE")))
        ),
    ),
    "FI": (
        _Source("fi.alv", _("Finnish VAT number"), (("0216", _prefix("0037")),)),
        _Source("fi.ytunnus", _("Finnish business id"), (("0216", _prefix("0037")),)),
    ),
    "DE": (
        _Source("de.vat", _("German VAT number"), (("9930", _prefix("DE")),)),
        _Source("de.leitweg", _("Leitweg-ID"), (("0204", _same),)),
    ),
    "DK": (_Source("dk.cvr", _("Danish CVR number"), (("0184", _same),)),),
    "FR": (
        _Source("fr.siren", _("SIREN"), (("0002", _same),)),
        _Source("fr.siret", _("SIRET"), (("0009", _same), ("0002", _same))),
        _Source(
            "fr.tva", _("French VAT number"), (("0002", lambda n: n[2:]), ("9957", _prefix("FR")))
        ),
    ),
    "IT": (
        _Source("it.iva", _("partita IVA"), (("0211", _prefix("IT")), ("0210", _same))),
        _Source("it.codicefiscale", _("codice fiscale"), (("0210", _same),)),
    ),
    "AT": (_Source("at.uid", _("Austrian UID"), (("9914", _prefix("AT")),)),),
    "CH": (
        _Source("ch.uid", _("Swiss UID"), (("0183", _same),)),
        _Source("ch.vat", _("Swiss VAT number"), (("9927", _same), ("0183", lambda n: n[:12]))),
    ),
    "AU": (_Source("au.abn", _("ABN"), (("0151", _same),)),),
    "SG": (_Source("sg.uen", _("UEN"), (("0195", _prefix("SGUEN")),)),),
    "JP": (_Source("jp.cn", _("corporate number"), (("0188", _same), ("0221", _prefix("T")))),),
    "IS": (_Source("is_.kennitala", _("kennitala"), (("0196", _same), ("9917", _same))),),
    "EE": (
        _Source("ee.registrikood", _("registry code"), (("0191", _same),)),
        _Source("ee.kmkr", _("Estonian VAT number"), (("9931", _prefix("EE")),)),
    ),
    "LV": (
        _Source("lv.pvn", _("registration number"), (("0218", _same), ("9939", _prefix("LV")))),
    ),
    "HU": (_Source("hu.anum", _("Hungarian VAT number"), (("9910", _prefix("HU")),)),),
    "US": (_Source("us.ein", _("EIN"), (("9959", _same),)),),
    "GR": (_Source("gr.vat", _("Greek VAT number"), (("9933", _prefix("EL")),)),),
}

# Every other country with a 99xx "CC:VAT" scheme gets that VAT number as a source.
_VAT_SOURCE_MODULES: Final = {
    "ES": ("9920", "es.nif"),
    "AD": ("9922", "ad.nrt"),
    "AL": ("9923", "al.nipt"),
    "BG": ("9926", "bg.vat"),
    "CY": ("9928", "cy.vat"),
    "CZ": ("9929", "cz.dic"),
    "GB": ("9932", "gb.vat"),
    "HR": ("9934", "hr.oib"),
    "IE": ("9935", "ie.vat"),
    "LT": ("9937", "lt.pvm"),
    "LU": ("9938", "lu.tva"),
    "MC": ("9940", "mc.tva"),
    "ME": ("9941", "me.pib"),
    "MK": ("9942", "mk.edb"),
    "MT": ("9943", "mt.vat"),
    "NL": ("9944", "nl.btw"),
    "PL": ("9945", "pl.nip"),
    "PT": ("9946", "pt.nif"),
    "RO": ("9947", "ro.cf"),
    "RS": ("9948", "rs.pib"),
    "SI": ("9949", "si.ddv"),
    "SK": ("9950", "sk.dph"),
    "SM": ("9951", "sm.coe"),
    "TR": ("9952", "tr.vkn"),
}

_COUNTRY_ALIASES: Final = {"EL": "GR", "UK": "GB"}
_STRIP_RE: Final = re.compile(r"[\s.\-/]+")


@functools.cache
def _sources_for(country: str) -> tuple[_Source, ...]:
    sources = list(_SOURCES.get(country, ()))
    if country in _VAT_SOURCE_MODULES:
        icd, module = _VAT_SOURCE_MODULES[country]
        label = _("{country} VAT number", country=country)
        sources.append(_Source(module, label, ((icd, _prefix(country)),)))
    return tuple(sources)


def _listed(items: list[str]) -> str:
    """``"a, b or c"`` that stays a message, so each item is shown in the reader's language."""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return _("{first} or {second}", first=items[0], second=items[1])
    return _("{first}, {rest}", first=items[0], rest=_listed(items[1:]))


def _compact(module: str, number: str) -> str | None:
    """``stdnum.<module>.compact`` of a number that validates, else None."""
    mod = _stdnum(module)
    try:
        return str(mod.compact(mod.validate(number)))
    except Exception:  # any stdnum complaint means: not this kind of number
        return None


def country_of(text: str) -> str:
    """The ISO 3166 alpha-2 code of a country as people write it: ``"SE"``, ``"se"``,
    ``"Sverige"``, ``"Sweden"``, ``"Suomi"``, and the VAT prefixes ``EL`` and ``UK``.

    Registers and support staff write countries in their own words, so every function that
    takes a country goes through here. Raises :class:`~peppolnet.errors.InvalidInput` naming the
    text when it names no country.
    """
    code = None
    if isinstance(text, str):
        stripped = text.strip()
        code = _COUNTRY_ALIASES.get(stripped.upper()) or country_code(stripped)
    if code is None:
        raise InvalidInput(
            _(
                "{country} is not a country peppolnet knows: give its two-letter code (SE) or "
                "its name (Sverige, Sweden)",
                country=repr(text),
            )
        )
    return code


def suggest_participant_ids(number: str, country: str) -> Suggestions:
    """Turn a number as typed (``BE 0677.424.046``) into valid participant ids, most likely first.

    Active schemes come first, then deprecated ones (still registrable, e.g. Norway's 9909);
    removed schemes are never suggested. Every candidate passes :func:`validate`. An invalid
    number or a country that is not one gives no candidates and a ``reason``. The country is a
    code or a name in English, Swedish or its own language (:func:`country_of`).

    >>> [c.bare for c in suggest_participant_ids("BE 0677.424.046", "BE")]
    ['0208:0677424046', '9925:be0677424046']
    """
    text = number.strip() if isinstance(number, str) else ""
    if not text:
        return Suggestions(str(number), str(country), reason=_("the number is empty"))
    try:
        cc = country_of(country)
    except InvalidInput as exc:
        return Suggestions(text, str(country), reason=exc.message)
    table = _table()
    country_schemes = [s for s, _ in table.values() if s.country == cc]
    sources = _sources_for(cc)
    if not sources and not country_schemes:
        return Suggestions(
            text, cc, reason=_("the Peppol code list has no schemes for {country}", country=cc)
        )

    raw: list[tuple[str, str]] = []
    tried: list[str] = []
    for source in sources:
        compacted = _compact(source.module, text)
        if compacted is None:
            tried.append(source.label)
            continue
        raw.extend((icd, make(compacted)) for icd, make in source.targets)
    # Generic fallback: the number as typed (separators removed) under every checkable scheme
    # of the country, for schemes no source above covers.
    plain = _STRIP_RE.sub("", text).upper()
    for scheme in country_schemes:
        if table[scheme.icd][1].suggest and scheme.state is not SchemeState.REMOVED:
            raw.append((scheme.icd, plain))

    active: list[ParticipantId] = []
    deprecated: list[ParticipantId] = []
    for icd, local in raw:
        try:
            pid = ParticipantId.of(icd, local)
        except InvalidParticipantId:
            continue
        result = validate(pid)
        if not result.valid or result.scheme is None:
            continue
        bucket = active if result.scheme.state is SchemeState.ACTIVE else deprecated
        if pid not in active and pid not in deprecated:
            bucket.append(pid)
    candidates = tuple(active + deprecated)
    if candidates:
        return Suggestions(text, cc, candidates)
    if tried:
        kinds = _listed(tried)
        reason = _("{number} is not a valid {kinds}", number=repr(text), kinds=kinds)
    else:
        reason = _(
            "{number} is not valid under any participant scheme of {country}",
            number=repr(text),
            country=cc,
        )
    return Suggestions(text, cc, reason=reason)
