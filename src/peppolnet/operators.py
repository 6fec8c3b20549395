"""Operators (Peppol service providers) and a registry to find them by Seat ID, SPID or name.

An operator is known on the network by the Seat ID in the CN of its access point and SMP
certificates (``P`` + country + six digits, e.g. ``PSE000123``). The SPID (participant scheme 0242)
carries the same six digits as its main id. People, however, know operators by name, typed any
which way ("Pagero", "pagero ab", "PÄGERO", "Norrsken" for "Norrsken Invoice AB"), or by a short
id of their own (the sandbox's ``kvittra``): the registry resolves any name, part of a name (whole
words) or alias that fits exactly one operator, case- and accent-insensitively; when several
fit it names them all, and when none fits it suggests close names.

The registry learns from lookups: every access point certificate seen adds or enriches an
operator, so a support tool's registry grows as it is used.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

__all__ = [
    "SEAT_ID_RE",
    "SPID_RE",
    "Operator",
    "OperatorMatch",
    "OperatorRegistry",
    "is_seat_id",
    "normalise_name",
]

SEAT_ID_RE: Final = re.compile(r"P[A-Z]{2}[0-9]{6}")
SPID_RE: Final = re.compile(r"[0-9]{6}(-[0-9A-Z_]{3,12}(\.[0-9A-Z\-._~]{3,24})?)?", re.IGNORECASE)
_LEGAL_FORMS: Final = frozenset(
    {"ab", "as", "asa", "oy", "oyj", "aps", "a/s", "gmbh", "bv", "nv", "sa", "srl", "ltd", "plc",
     "inc", "ag", "sas", "spa", "bvba", "ehf", "hf", "llc", "publ", "(publ)"}
)  # fmt: skip


def is_seat_id(text: str) -> bool:
    """Whether ``text`` is a well-formed Peppol Seat ID (``P[A-Z]{2}[0-9]{6}``, case-sensitive)."""
    return SEAT_ID_RE.fullmatch(text) is not None


def normalise_name(name: str) -> str:
    """Fold case and accents and drop legal forms, so "Pagero AB" matches "PAGERO"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.findall(r"[\w/()]+", plain)
    kept = [w for w in words if w not in _LEGAL_FORMS]
    return " ".join(kept or words)


@dataclasses.dataclass(frozen=True)
class Operator:
    """A Peppol service provider as far as we know it."""

    seat_id: str
    name: str | None = None
    country: str | None = None
    smp_urls: frozenset[str] = frozenset()
    ap_urls: frozenset[str] = frozenset()
    certificate_fingerprints: frozenset[str] = frozenset()
    #: Other names people use for it, e.g. the sandbox's operator ids (``kvittra``).
    aliases: frozenset[str] = frozenset()

    @property
    def spid_main_id(self) -> str:
        """The six-digit main id shared by the Seat ID and the SPID (scheme 0242)."""
        return self.seat_id[3:]

    def merged(self, other: Operator) -> Operator:
        """Combine what two observations of the same operator know (names: the newer wins)."""
        return Operator(
            seat_id=self.seat_id,
            name=other.name or self.name,
            country=other.country or self.country,
            smp_urls=self.smp_urls | other.smp_urls,
            ap_urls=self.ap_urls | other.ap_urls,
            certificate_fingerprints=self.certificate_fingerprints | other.certificate_fingerprints,
            aliases=self.aliases | other.aliases,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with sorted lists (stable output)."""
        return {
            "seat_id": self.seat_id,
            "name": self.name,
            "country": self.country,
            "smp_urls": sorted(self.smp_urls),
            "ap_urls": sorted(self.ap_urls),
            "certificate_fingerprints": sorted(self.certificate_fingerprints),
            "aliases": sorted(self.aliases),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operator:
        """Build from :meth:`to_json` output or a user's file entry; checks the Seat ID."""
        seat_id = str(data.get("seat_id", "")).strip()
        if not is_seat_id(seat_id):
            raise InvalidInput(
                _(
                    "operator seat_id {seat_id!r} is not a Peppol Seat ID (like 'PSE000123')",
                    seat_id=seat_id,
                )
            )

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(
                    _(
                        "operator {seat_id}: {key} must be text, not {value!r}",
                        seat_id=seat_id,
                        key=key,
                        value=value,
                    )
                )
            return value

        def texts(key: str) -> frozenset[str]:
            values = data.get(key, ())
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
                raise InvalidInput(
                    _("operator {seat_id}: {key} must be a list of text", seat_id=seat_id, key=key)
                )
            return frozenset(values)

        return cls(
            seat_id=seat_id,
            name=text("name"),
            country=text("country"),
            smp_urls=texts("smp_urls"),
            ap_urls=texts("ap_urls"),
            certificate_fingerprints=texts("certificate_fingerprints"),
            aliases=texts("aliases"),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.seat_id})" if self.name else self.seat_id


@dataclasses.dataclass(frozen=True)
class OperatorMatch:
    """The result of :meth:`OperatorRegistry.find`: the operator, or suggestions."""

    query: str
    operator: Operator | None
    suggestions: tuple[Operator, ...] = ()
    problem: str | None = None

    @property
    def message(self) -> str:
        """One sentence for a person when nothing was found: the problem, then the candidates
        (every operator an ambiguous query fits, or the close names) - a catalog message, so
        it reads in Swedish as well."""
        text = self.problem or _("no operator {query!r} is known", query=self.query)
        if not self.suggestions:
            return text
        return _(
            "{problem}; did you mean: {operators}?",
            problem=text,
            operators=", ".join(str(op) for op in self.suggestions),
        )


class OperatorRegistry:
    """Operators by Seat ID; loaded from a user file, learning from lookups. Thread-safe."""

    def __init__(self, operators: Iterable[Operator] = ()) -> None:
        self._lock = threading.Lock()
        self._by_seat: dict[str, Operator] = {}
        for operator in operators:
            self.add(operator)

    @classmethod
    def load(cls, path: str | Path) -> OperatorRegistry:
        """Read operators from a TOML file (``[[operators]]`` tables) or a JSON list."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                _("cannot read operator file {path}: {reason}", path=str(path), reason=exc.strerror)
            ) from exc
        except UnicodeDecodeError:
            raise InvalidInput(
                _("operator file {path} is not UTF-8 text", path=str(path))
            ) from None
        try:
            if path.suffix.lower() == ".toml":
                entries = tomllib.loads(text).get("operators", [])
            else:
                data = json.loads(text)
                entries = data.get("operators", []) if isinstance(data, dict) else data
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(
                _("operator file {path} is not valid: {reason}", path=str(path), reason=str(exc))
            ) from exc
        if not isinstance(entries, list):
            raise InvalidInput(
                _("operator file {path} must hold a list of operators", path=str(path))
            )
        registry = cls()
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict):
                raise InvalidInput(
                    _(
                        "operator #{number} in {path} is not a table/object",
                        number=number,
                        path=str(path),
                    )
                )
            try:
                registry.add(Operator.from_json(entry))
            except InvalidInput as exc:
                raise InvalidInput(
                    _(
                        "operator #{number} in {path}: {problem}",
                        number=number,
                        path=str(path),
                        problem=exc.message,
                    )
                ) from exc
        return registry

    def save(self, path: str | Path) -> None:
        """Write the registry as JSON, atomically: a half-written file never replaces a good one."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        payload = {"operators": [op.to_json() for op in self]}
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def add(self, operator: Operator) -> Operator:
        """Add or enrich an operator; returns what the registry now holds for its Seat ID."""
        with self._lock:
            known = self._by_seat.get(operator.seat_id)
            merged = known.merged(operator) if known else operator
            self._by_seat[operator.seat_id] = merged
            return merged

    def observe(
        self,
        seat_id: str | None,
        *,
        name: str | None = None,
        country: str | None = None,
        smp_url: str | None = None,
        ap_url: str | None = None,
        fingerprint: str | None = None,
    ) -> Operator | None:
        """Learn from a lookup: the facts of an access point certificate and where it was seen.

        Certificates without a well-formed Seat ID teach nothing (``None`` is returned).
        """
        if not seat_id or not is_seat_id(seat_id):
            return None
        return self.add(
            Operator(
                seat_id=seat_id,
                name=name,
                country=country,
                smp_urls=frozenset({smp_url} if smp_url else ()),
                ap_urls=frozenset({ap_url} if ap_url else ()),
                certificate_fingerprints=frozenset({fingerprint} if fingerprint else ()),
            )
        )

    def __iter__(self) -> Iterator[Operator]:
        with self._lock:
            return iter(sorted(self._by_seat.values(), key=lambda op: op.seat_id))

    def __len__(self) -> int:
        return len(self._by_seat)

    def by_seat_id(self, seat_id: str) -> Operator | None:
        """The operator with this Seat ID (case-insensitive input), if known."""
        return self._by_seat.get(seat_id.strip().upper())

    def by_spid(self, spid: str) -> Operator | None:
        """The operator whose Seat ID carries the SPID's six-digit main id (scheme 0242)."""
        spid = spid.strip()
        if spid.startswith("0242:"):
            spid = spid[5:]
        if not SPID_RE.fullmatch(spid):
            return None
        main = spid[:6]
        return next((op for op in self if op.spid_main_id == main), None)

    def find(self, query: str) -> OperatorMatch:
        """Find an operator by Seat ID, SPID (``0242:123456``) or name; suggest close names.

        A query that looks like a Seat ID or SPID but is unknown, or is malformed, says so in
        ``problem`` rather than silently falling back to a name search.
        """
        text = query.strip()
        if not text:
            return OperatorMatch(query, None, problem=_("the operator is empty"))
        upper = text.upper()
        if re.fullmatch(r"P[A-Z]{2}\d+", upper):
            if not is_seat_id(upper):
                return OperatorMatch(
                    query,
                    None,
                    problem=_(
                        "{text!r} is not a valid Seat ID (P + 2 letters + 6 digits)", text=text
                    ),
                )
            found = self.by_seat_id(upper)
            problem = None if found else _("no operator with Seat ID {seat} is known", seat=upper)
            return OperatorMatch(query, found, problem=problem)
        if text.startswith("0242:") or re.fullmatch(r"\d{6}([-.].*)?", text):
            spid = text.removeprefix("0242:")
            if not SPID_RE.fullmatch(spid):
                return OperatorMatch(
                    query, None, problem=_("{text!r} is not a valid SPID", text=text)
                )
            found = self.by_spid(spid)
            problem = None if found else _("no operator with SPID {spid} is known", spid=spid)
            return OperatorMatch(query, found, problem=problem)
        return self._find_by_name(query, text)

    def _find_by_name(self, query: str, text: str) -> OperatorMatch:
        """Exact names and aliases first; then names that contain the query as whole words
        ("norrsken" in "Norrsken Invoice AB"). One fit resolves, several are named."""
        wanted = normalise_name(text)
        named = [(normalise_name(op.name or ""), op) for op in self]
        exact = [
            op
            for key, op in named
            if key == wanted or wanted in {normalise_name(alias) for alias in op.aliases}
        ]
        fits = exact or [op for key, op in named if _contains_words(key, wanted)]
        if len(fits) == 1:
            return OperatorMatch(query, fits[0])
        if fits:
            return OperatorMatch(
                query,
                None,
                tuple(fits),
                problem=_(
                    "{text!r} fits {count} operators; give more of the name or the Seat ID",
                    text=text,
                    count=len(fits),
                ),
            )
        scored = sorted(
            ((difflib.SequenceMatcher(None, wanted, key).ratio(), op) for key, op in named if key),
            key=lambda pair: (-pair[0], pair[1].seat_id),
        )
        close = tuple(op for score, op in scored if score >= 0.6)[:5]
        return OperatorMatch(
            query, None, close, problem=_("no operator named {text!r} is known", text=text)
        )


def _contains_words(name: str, wanted: str) -> bool:
    """Whether ``wanted``'s words appear in ``name`` together, as whole words."""
    return bool(wanted) and f" {wanted} " in f" {name} "
