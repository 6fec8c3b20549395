"""The sandbox network description: operators, SMPs, participants, quirks and faults.

A network is a TOML file (``fixtures/sandbox-network.toml`` is the shipped default) read into
frozen dataclasses. Reading is strict: an unknown key, a missing field, an identifier that does
not parse or a reference to an operator that does not exist is a :class:`SandboxError` that names
the field (``participants[12].operator``) and, where it can be found, the line - a test network
with a typo should fail loudly, not silently become a smaller network.

Quirks are per participant and make the sandbox publish the kinds of wrong or unusual data seen
in the real network, so that lookups can be tested against them (see docs/sandbox.md).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Final, cast

from peppolnet.errors import PeppolnetError, SandboxError
from peppolnet.i18n import _
from peppolnet.identifiers import (
    BIS_BILLING_CREDIT_NOTE,
    BIS_BILLING_INVOICE,
    BIS_BILLING_PROCESS,
    TRANSPORT_AS4,
    DocumentTypeId,
    ParticipantId,
    ProcessId,
    TransportProfile,
)
from peppolnet.sandbox.dns_server import LIES, Lie
from peppolnet.sandbox.dns_signing import DNSSEC_MODES, DnssecMode
from peppolnet.sandbox.http import Faults

__all__ = [
    "DIALECTS",
    "QUIRKS",
    "BusinessCardData",
    "Contact",
    "DnsFaults",
    "OperatorConfig",
    "ParticipantConfig",
    "SandboxConfig",
    "SmpConfig",
    "default_config_path",
    "load_config",
    "parse_config",
]

DEFAULT_ZONE: Final = "sml.sandbox.peppolnet.test"

#: SMP dialects a sandbox SMP can speak.
DIALECTS: Final = ("peppol-smp-1", "oasis-smp-1", "oasis-smp-2")

#: Every per-participant quirk the sandbox can publish, with what it does.
QUIRKS: Final[Mapping[str, str]] = {
    "expired-ap-certificate": "the endpoint certificate is an AP certificate that has expired",
    "endpoint-not-yet-active": "ServiceActivationDate lies in the future",
    "endpoint-expired": "ServiceExpirationDate lies in the past",
    "unsigned": "the ServiceMetadata carries no signature",
    "bad-signature": "signed, then the endpoint URL was changed",
    "wrong-participant-echo": "the ServiceMetadata names another participant",
    "http-endpoint": "the AP URL is http://",
    "http-smp": "the SML points to an SMP reachable only over plain http",
    "redirect": "the SMP answers with a signed Redirect to another SMP",
    "legacy-cname": "the SML also publishes the legacy B-<md5> CNAME record",
    "no-meta-smp": "the NAPTR record names another service than Meta:SMP",
    "dns-servfail": "the DNS server answers SERVFAIL for this participant",
    "smp-500": "the SMP answers HTTP 500 for this participant",
    "old-transport-profile": "the only endpoint uses peppol-transport-as4-v1_0",
    "sha1-signature": "signed with rsa-sha1 (rejected by the strict policy)",
    "expired-smp-certificate": "signed with an SMP certificate that has expired",
    "missing-document-type": "registered, but not for the BIS Billing invoice",
    "wrong-process": "the invoice is published under another process",
}

OLD_TRANSPORT_PROFILE: Final = TransportProfile("peppol-transport-as4-v1_0")
_SEAT_ID_RE: Final = re.compile(r"P[A-Z]{2}[0-9]{6}")
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class DnsFaults:
    """Fault injection for the sandbox DNS server; ``lie`` is one of its :data:`LIES`,
    ``dnssec`` one of its :data:`~peppolnet.sandbox.dns_signing.DNSSEC_MODES`."""

    latency: float = 0.0
    jitter: float = 0.0
    timeout_share: float = 0.0
    lie: Lie | None = None
    dnssec: DnssecMode = "signed"


@dataclass(frozen=True)
class SmpConfig:
    """One SMP server. ``path`` is the base path of its REST API ("" or "/smp")."""

    id: str
    operator: str
    dialect: str = "peppol-smp-1"
    path: str = ""
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class OperatorConfig:
    """A Peppol service provider: runs an access point and publishes on one SMP."""

    id: str
    name: str
    seat_id: str
    country: str
    smp: str
    ap_url: str
    email: str = ""


@dataclass(frozen=True)
class Contact:
    type: str = ""
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class BusinessCardData:
    """What the participant's business card says beyond its name and country."""

    geographical_info: str = ""
    websites: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()
    additional_info: str = ""
    registration_date: dt.date | None = None


@dataclass(frozen=True)
class ParticipantConfig:
    """A participant. ``in_sml=False`` means: in the Directory only (a stale business card)."""

    id: ParticipantId
    name: str
    country: str
    operator: str
    document_types: tuple[DocumentTypeId, ...] = (BIS_BILLING_INVOICE, BIS_BILLING_CREDIT_NOTE)
    process: ProcessId = BIS_BILLING_PROCESS
    quirks: frozenset[str] = frozenset()
    in_sml: bool = True
    business_card: BusinessCardData | None = field(default_factory=BusinessCardData)


@dataclass(frozen=True)
class SandboxConfig:
    """A whole sandbox network; build it in code or with :func:`load_config`."""

    operators: tuple[OperatorConfig, ...]
    smps: tuple[SmpConfig, ...]
    participants: tuple[ParticipantConfig, ...] = ()
    name: str = "sandbox"
    zone: str = DEFAULT_ZONE
    transport_profile: TransportProfile = TRANSPORT_AS4
    dns_faults: DnsFaults = field(default_factory=DnsFaults)
    source: str = "<code>"
    #: Fault injection for the Peppol Directory server, as an SMP's (``[directory.faults]``).
    directory_faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        _check_references(self)

    def operator(self, operator_id: str) -> OperatorConfig:
        for op in self.operators:
            if op.id == operator_id:
                return op
        raise SandboxError(
            _(
                "{source}: no operator {operator_id} in the sandbox network",
                source=self.source,
                operator_id=repr(operator_id),
            )
        )

    def smp(self, smp_id: str) -> SmpConfig:
        for smp in self.smps:
            if smp.id == smp_id:
                return smp
        raise SandboxError(
            _(
                "{source}: no SMP {smp_id} in the sandbox network",
                source=self.source,
                smp_id=repr(smp_id),
            )
        )


def default_config_path() -> Path:
    """The default network shipped with peppolnet (``peppolnet/data/sandbox-network.toml``).

    The packaged copy is preferred; in a source checkout the ``fixtures/`` file is used.
    """
    packaged = resources.files("peppolnet") / "data" / "sandbox-network.toml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "fixtures" / "sandbox-network.toml"


def load_config(path: Path | str | None = None) -> SandboxConfig:
    """Read a network file (TOML); ``None`` reads the default network."""
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxError(
            _("cannot read the sandbox network file {file}: {exc}", file=file, exc=str(exc))
        ) from exc
    return parse_config(text, source=str(file))


def parse_config(text: str, *, source: str = "<string>") -> SandboxConfig:
    """Parse a network description; errors name the file, the field and (if found) the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SandboxError(
            _("{source}: not valid TOML: {exc}", source=source, exc=str(exc))
        ) from exc
    reader = _Reader(text, source)
    try:
        return reader.config(data)
    except _FieldError as exc:
        line = reader.line_of(exc.where, exc.value)
        where = _("{where} (line {line})", where=exc.where, line=line) if line else exc.where
        raise SandboxError(
            _("{source}: {where}: {problem}", source=source, where=where, problem=exc.problem)
        ) from None


class _FieldError(Exception):
    def __init__(self, where: str, problem: str, value: object = None) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
        self.value = value


class _Reader:
    """Turns the parsed TOML tree into config values, tracking where each value came from."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def line_of(self, where: str, value: object) -> int | None:
        """Best effort: the line of the n-th ``[[table]]`` entry, then of the value within it."""
        match = re.match(r"(\w+)\[(\d+)\]", where)
        start = 0
        if match:
            header = f"[[{match.group(1)}]]"
            seen = -1
            for i, line in enumerate(self.lines):
                if line.strip() == header:
                    seen += 1
                    if seen == int(match.group(2)):
                        start = i
                        break
            else:
                return None
        key = where.rsplit(".", 1)[-1].split("[")[0]
        for i in range(start, len(self.lines)):
            stripped = self.lines[i].strip()
            if i > start and stripped.startswith("[["):
                break
            if stripped.startswith((f"{key} ", f"{key}=")):
                return i + 1
            if isinstance(value, str) and value and f'"{value}"' in stripped:
                return i + 1
        return start + 1 if match else None

    # -- typed getters ---------------------------------------------------------------------------

    @staticmethod
    def _table(data: object, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _FieldError(where, _("must be a table"))
        return data

    @staticmethod
    def _only(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise _FieldError(
                f"{where}.{unknown[0]}",
                _(
                    "unknown key {unknown} (allowed: {listed})",
                    unknown=repr(unknown[0]),
                    listed=", ".join(sorted(allowed)),
                ),
            )

    @staticmethod
    def _str(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        if key not in table:
            if default is None:
                raise _FieldError(f"{where}.{key}", _("is missing"))
            return default
        value = table[key]
        if not isinstance(value, str):
            raise _FieldError(
                f"{where}.{key}", _("must be a string, got {value}", value=repr(value)), value
            )
        return value

    @staticmethod
    def _float(table: Mapping[str, Any], key: str, where: str) -> float:
        value = table.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _FieldError(
                f"{where}.{key}", _("must be a number >= 0, got {value}", value=repr(value)), value
            )
        return float(value)

    @staticmethod
    def _lie(dns: Mapping[str, Any]) -> Lie | None:
        value = dns.get("lie")
        if value is not None and (not isinstance(value, str) or value not in LIES):
            raise _FieldError(
                "dns.lie",
                _(
                    "must be one of {listed}, got {value}",
                    listed=", ".join(LIES),
                    value=repr(value),
                ),
                value,
            )
        return cast("Lie | None", value)

    @staticmethod
    def _dnssec(dns: Mapping[str, Any]) -> DnssecMode:
        value = dns.get("dnssec", "signed")
        if not isinstance(value, str) or value not in DNSSEC_MODES:
            known = ", ".join(DNSSEC_MODES)
            raise _FieldError(
                "dns.dnssec",
                _("must be one of {known}, got {value}", known=known, value=repr(value)),
                value,
            )
        return cast("DnssecMode", value)

    @staticmethod
    def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _FieldError(
                f"{where}.{key}",
                _("must be a list of strings, got {value}", value=repr(value)),
                value,
            )
        return value

    @staticmethod
    def _list(data: Mapping[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise _FieldError(key, _("must be an array of tables ([[{key}]])", key=key))
        return value

    # -- sections --------------------------------------------------------------------------------

    def config(self, data: dict[str, Any]) -> SandboxConfig:
        self._only(
            data, ("network", "dns", "directory", "operators", "smps", "participants"), "file"
        )
        directory = self._table(data.get("directory", {}), "directory")
        self._only(directory, ("faults",), "directory")
        network = self._table(data.get("network", {}), "network")
        self._only(network, ("name", "zone", "transport_profile"), "network")
        dns = self._table(data.get("dns", {}), "dns")
        self._only(dns, ("latency", "jitter", "timeout_share", "lie", "dnssec"), "dns")
        try:
            profile = TransportProfile.parse(
                self._str(network, "transport_profile", "network", str(TRANSPORT_AS4))
            )
        except PeppolnetError as exc:
            raise _FieldError("network.transport_profile", exc.message) from None
        operators = tuple(
            self.operator(self._table(t, f"operators[{i}]"), f"operators[{i}]")
            for i, t in enumerate(self._list(data, "operators"))
        )
        smps = tuple(
            self.smp(self._table(t, f"smps[{i}]"), f"smps[{i}]")
            for i, t in enumerate(self._list(data, "smps"))
        )
        participants = tuple(
            self.participant(self._table(t, f"participants[{i}]"), f"participants[{i}]")
            for i, t in enumerate(self._list(data, "participants"))
        )
        zone = self._str(network, "zone", "network", DEFAULT_ZONE).strip(".").lower()
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", zone):
            raise _FieldError("network.zone", _("{zone} is not a DNS name", zone=repr(zone)), zone)
        try:
            return SandboxConfig(
                operators=operators,
                smps=smps,
                participants=participants,
                name=self._str(network, "name", "network", "sandbox"),
                zone=zone,
                transport_profile=profile,
                dns_faults=DnsFaults(
                    latency=self._float(dns, "latency", "dns"),
                    jitter=self._float(dns, "jitter", "dns"),
                    timeout_share=self._float(dns, "timeout_share", "dns"),
                    lie=self._lie(dns),
                    dnssec=self._dnssec(dns),
                ),
                source=self.source,
                directory_faults=self.faults(directory, "directory"),
            )
        except _FieldError:
            raise
        except SandboxError as exc:  # reference errors from __post_init__ already name the field
            raise SandboxError(exc.message) from None

    def faults(self, t: dict[str, Any], where: str) -> Faults:
        """The optional ``faults`` table of ``t`` (an SMP's, the Directory's)."""
        faults_t = self._table(t.get("faults", {}), f"{where}.faults")
        # every number of Faults is a key of the file's table (the seed is an integer)
        fault_keys = tuple(f.name for f in fields(Faults) if f.name != "seed")
        self._only(faults_t, (*fault_keys, "seed"), f"{where}.faults")
        values = {
            k: self._float(faults_t, k, f"{where}.faults") for k in fault_keys if k in faults_t
        }
        seed = faults_t.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise _FieldError(f"{where}.faults.seed", _("must be an integer"))
        try:
            return Faults(**values, seed=seed)
        except SandboxError as exc:
            raise _FieldError(f"{where}.faults", exc.message) from None

    def operator(self, t: dict[str, Any], where: str) -> OperatorConfig:
        self._only(t, ("id", "name", "seat_id", "country", "smp", "ap_url", "email"), where)
        op = OperatorConfig(
            id=self._str(t, "id", where),
            name=self._str(t, "name", where),
            seat_id=self._str(t, "seat_id", where),
            country=self._str(t, "country", where),
            smp=self._str(t, "smp", where),
            ap_url=self._str(t, "ap_url", where),
            email=self._str(t, "email", where, ""),
        )
        if not _NAME_RE.fullmatch(op.id):
            raise _FieldError(
                f"{where}.id", _("{id} must be lower-case letters, digits, '-'", id=repr(op.id))
            )
        if not _SEAT_ID_RE.fullmatch(op.seat_id):
            raise _FieldError(
                f"{where}.seat_id",
                _("{seat_id} is not a Seat ID like PSE000123", seat_id=repr(op.seat_id)),
                op.seat_id,
            )
        if not _COUNTRY_RE.fullmatch(op.country):
            raise _FieldError(
                f"{where}.country", _("{country} is not a country code", country=repr(op.country))
            )
        if not op.ap_url.startswith("https://"):
            raise _FieldError(f"{where}.ap_url", _("must be an https:// URL"), op.ap_url)
        return op

    def smp(self, t: dict[str, Any], where: str) -> SmpConfig:
        self._only(t, ("id", "operator", "dialect", "path", "faults"), where)
        faults = self.faults(t, where)
        smp = SmpConfig(
            id=self._str(t, "id", where),
            operator=self._str(t, "operator", where),
            dialect=self._str(t, "dialect", where, "peppol-smp-1"),
            path=self._str(t, "path", where, "").rstrip("/"),
            faults=faults,
        )
        if not _NAME_RE.fullmatch(smp.id):
            raise _FieldError(
                f"{where}.id", _("{id} must be lower-case letters, digits, '-'", id=repr(smp.id))
            )
        if smp.dialect not in DIALECTS:
            raise _FieldError(
                f"{where}.dialect",
                _(
                    "{dialect} is not one of {listed}",
                    dialect=repr(smp.dialect),
                    listed=", ".join(DIALECTS),
                ),
                smp.dialect,
            )
        if smp.path and not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", smp.path):
            raise _FieldError(
                f"{where}.path", _("{path} is not a URL path like /smp", path=repr(smp.path))
            )
        return smp

    def participant(self, t: dict[str, Any], where: str) -> ParticipantConfig:
        allowed = (
            "id",
            "name",
            "country",
            "operator",
            "document_types",
            "process",
            "quirks",
            "in_sml",
            "business_card",
        )
        self._only(t, allowed, where)
        raw_id = self._str(t, "id", where)
        try:
            pid = ParticipantId.parse(
                raw_id if "::" in raw_id else f"iso6523-actorid-upis::{raw_id}"
            )
        except PeppolnetError as exc:
            raise _FieldError(f"{where}.id", exc.message, raw_id) from None
        doc_types: list[DocumentTypeId] = []
        for i, text in enumerate(self._strings(t, "document_types", where)):
            try:
                doc_types.append(DocumentTypeId.parse(text))
            except PeppolnetError as exc:
                raise _FieldError(f"{where}.document_types[{i}]", exc.message, text) from None
        process_text = self._str(t, "process", where, BIS_BILLING_PROCESS.uri)
        try:
            process = ProcessId.parse(process_text)
        except PeppolnetError as exc:
            raise _FieldError(f"{where}.process", exc.message, process_text) from None
        quirks = self._strings(t, "quirks", where)
        for q in quirks:
            if q not in QUIRKS:
                raise _FieldError(
                    f"{where}.quirks",
                    _(
                        "unknown quirk {quirk} (known: {listed})",
                        quirk=repr(q),
                        listed=", ".join(QUIRKS),
                    ),
                    q,
                )
        in_sml = t.get("in_sml", True)
        if not isinstance(in_sml, bool):
            raise _FieldError(f"{where}.in_sml", _("must be true or false"))
        country = self._str(t, "country", where)
        if not _COUNTRY_RE.fullmatch(country):
            raise _FieldError(
                f"{where}.country",
                _("{country} is not a country code", country=repr(country)),
                country,
            )
        card: BusinessCardData | None = BusinessCardData()
        if "business_card" in t:
            raw_card = t["business_card"]
            card = None if raw_card is False else self.card(raw_card, f"{where}.business_card")
        return ParticipantConfig(
            id=pid,
            name=self._str(t, "name", where),
            country=country,
            operator=self._str(t, "operator", where),
            document_types=tuple(doc_types) or (BIS_BILLING_INVOICE, BIS_BILLING_CREDIT_NOTE),
            process=process,
            quirks=frozenset(quirks),
            in_sml=in_sml,
            business_card=card,
        )

    def card(self, raw: object, where: str) -> BusinessCardData:
        t = self._table(raw, where)
        allowed = (
            "geographical_info",
            "websites",
            "contacts",
            "identifiers",
            "additional_info",
            "registration_date",
        )
        self._only(t, allowed, where)
        contacts = []
        for i, c in enumerate(self._list(t, "contacts")):
            ct = self._table(c, f"{where}.contacts[{i}]")
            self._only(ct, ("type", "name", "phone", "email"), f"{where}.contacts[{i}]")
            contacts.append(
                Contact(**{k: self._str(ct, k, f"{where}.contacts[{i}]", "") for k in ct})
            )
        identifiers = []
        for i, text in enumerate(self._strings(t, "identifiers", where)):
            scheme, sep, value = text.partition(":")
            if not sep or not value:
                raise _FieldError(
                    f"{where}.identifiers[{i}]",
                    _("{text} must look like 'SE:ORGNR:5567321707'", text=repr(text)),
                )
            # "SE:ORGNR:5567321707" -> scheme "SE:ORGNR"
            scheme, _sep, value = text.rpartition(":")
            identifiers.append((scheme, value))
        reg = t.get("registration_date")
        if reg is not None and not isinstance(reg, dt.date):
            raise _FieldError(
                f"{where}.registration_date", _("must be a TOML date like 2024-05-01")
            )
        return BusinessCardData(
            geographical_info=self._str(t, "geographical_info", where, ""),
            websites=tuple(self._strings(t, "websites", where)),
            contacts=tuple(contacts),
            identifiers=tuple(identifiers),
            additional_info=self._str(t, "additional_info", where, ""),
            registration_date=reg,
        )


def _check_references(config: SandboxConfig) -> None:
    """Every operator, SMP and participant must be unique and refer to things that exist."""
    src = config.source
    ops = {op.id for op in config.operators}
    smps = {smp.id for smp in config.smps}
    if not config.operators or not config.smps:
        raise SandboxError(
            _("{source}: a sandbox network needs at least one operator and one SMP", source=src)
        )
    for kind, ids in (
        ("operator", [o.id for o in config.operators]),
        ("SMP", [s.id for s in config.smps]),
    ):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            name = repr(dupes[0])
            raise SandboxError(
                _("{source}: operator {name} is defined twice", source=src, name=name)
                if kind == "operator"
                else _("{source}: SMP {name} is defined twice", source=src, name=name)
            )
    for i, op in enumerate(config.operators):
        if op.smp not in smps:
            raise SandboxError(
                _(
                    "{source}: operators[{i}].smp: no SMP {smp} (have {smps})",
                    source=src,
                    i=i,
                    smp=repr(op.smp),
                    smps=sorted(smps),
                )
            )
    for i, smp in enumerate(config.smps):
        if smp.operator not in ops:
            raise SandboxError(
                _(
                    "{source}: smps[{i}].operator: no operator {operator}",
                    source=src,
                    i=i,
                    operator=repr(smp.operator),
                )
            )
    seen: set[ParticipantId] = set()
    for i, p in enumerate(config.participants):
        if p.operator not in ops:
            raise SandboxError(
                _(
                    "{source}: participants[{i}].operator: no operator {operator} (participant"
                    " {value})",
                    source=src,
                    i=i,
                    operator=repr(p.operator),
                    value=p.id.value,
                )
            )
        if p.id in seen:
            raise SandboxError(
                _(
                    "{source}: participants[{i}].id: {value} is listed twice",
                    source=src,
                    i=i,
                    value=p.id.value,
                )
            )
        seen.add(p.id)
