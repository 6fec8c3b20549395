"""The Peppol code lists (eDEC v9.7): participant schemes, document types, processes, profiles.

The data is compiled from the official JSON release by ``tools/gen_codelists.py`` into
``peppolnet/data/codelists/*.json``; nothing here is typed by hand, so the next release is one
command. Files are read lazily, once, on first use (never at import time) so that ``import
peppolnet`` stays cheap for callers who never look at a code list.

>>> from peppolnet.codelists import scheme_for
>>> scheme_for("0007").scheme_id
'SE:ORGNR'
>>> scheme_for("se:orgnr").icd
'0007'
>>> scheme_for("9955").state
<SchemeState.REMOVED: 'removed'>
"""

from __future__ import annotations

import enum
import functools
import json
import warnings
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from peppolnet.i18n import Message, _
from peppolnet.identifiers import DocumentTypeId, ProcessId, TransportProfile

__all__ = [
    "CodeListWarning",
    "DocumentTypeEntry",
    "ParticipantScheme",
    "ProcessEntry",
    "SchemeState",
    "TransportProfileEntry",
    "code_list_version",
    "document_type_entry",
    "document_type_name",
    "document_types",
    "participant_schemes",
    "process_entry",
    "processes",
    "scheme_for",
    "transport_profile_state",
    "transport_profiles",
    "warn_if_not_active",
]


class SchemeState(enum.StrEnum):
    """Life-cycle state of a code list entry."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"  # still works, but do not start using it
    REMOVED = "removed"  # no longer allowed in the network

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> Message:
        """The state in words for people (Swedish or English); ``value`` stays the machine's."""
        return _STATE_LABELS[self]


_STATE_LABELS: Final = {
    SchemeState.ACTIVE: _("active"),
    SchemeState.DEPRECATED: _("deprecated"),
    SchemeState.REMOVED: _("removed"),
}


class CodeListWarning(UserWarning):
    """Issued when a deprecated or removed code list entry is used (:func:`warn_if_not_active`)."""


@dataclass(frozen=True, slots=True)
class ParticipantScheme:
    """One participant identifier scheme (an ISO 6523 ICD code), e.g. ``0007`` ``SE:ORGNR``."""

    icd: str
    scheme_id: str
    country: str
    name: str
    state: SchemeState
    deprecation_release: str | None
    removal_date: str | None
    registrable: bool
    validation_rules: str
    examples: tuple[str, ...]
    regex: str | None = None
    initial_release: str | None = None

    @property
    def is_active(self) -> bool:
        """Whether new participants may use the scheme."""
        return self.state is SchemeState.ACTIVE

    @property
    def country_code(self) -> str:
        """The ISO 3166 code of the scheme's country (``"SE"`` for ``0007``), or "" for a scheme
        of no one country (the code list's "international": GLN, DUNS)."""
        return self.country if len(self.country) == 2 and self.country.isalpha() else ""


@dataclass(frozen=True, slots=True)
class DocumentTypeEntry:
    """One document type of the code list, with its allowed processes."""

    identifier: DocumentTypeId
    name: str
    state: SchemeState
    process_ids: tuple[ProcessId, ...]
    initial_release: str | None = None
    deprecation_release: str | None = None
    removal_date: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessEntry:
    """One process identifier of the code list."""

    identifier: ProcessId
    state: SchemeState


@dataclass(frozen=True, slots=True)
class TransportProfileEntry:
    """One transport profile of the code list (only AS4 v2.0 is active in v9.7)."""

    profile: TransportProfile
    protocol: str | None
    profile_version: str | None
    state: SchemeState
    initial_release: str | None = None
    deprecation_release: str | None = None
    removal_date: str | None = None


def _load(name: str) -> dict[str, Any]:
    path = resources.files("peppolnet").joinpath("data", "codelists", f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.cache
def code_list_version() -> str:
    """The code list release compiled into this package (``"9.7"``)."""
    return str(_load("participant_schemes")["_source"]["version"])


@functools.cache
def participant_schemes() -> tuple[ParticipantScheme, ...]:
    """Every participant identifier scheme of the code list, in ICD order."""
    return tuple(
        ParticipantScheme(
            icd=v["icd"],
            scheme_id=v["scheme_id"],
            country=v["country"],
            name=v["name"],
            state=SchemeState(v["state"]),
            deprecation_release=v["deprecation_release"],
            removal_date=v["removal_date"],
            registrable=v["registrable"],
            validation_rules=v["validation_rules"],
            examples=tuple(v["examples"]),
            regex=v["regex"],
            initial_release=v["initial_release"],
        )
        for v in _load("participant_schemes")["values"]
    )


@functools.cache
def _scheme_index() -> dict[str, ParticipantScheme]:
    index: dict[str, ParticipantScheme] = {}
    for scheme in participant_schemes():
        index[scheme.icd] = scheme
        index[scheme.scheme_id.upper()] = scheme
    return index


def scheme_for(code_or_id: str) -> ParticipantScheme | None:
    """The scheme for an ICD code (``"0007"``) or a scheme id (``"SE:ORGNR"``, any case)."""
    if not isinstance(code_or_id, str):
        return None
    return _scheme_index().get(code_or_id.strip().upper())


@functools.cache
def document_types() -> tuple[DocumentTypeEntry, ...]:
    """Every document type of the code list (lax parsing: some historic values are long)."""
    return tuple(
        DocumentTypeEntry(
            identifier=DocumentTypeId(v["scheme"], v["value"], lax=True),
            name=v["name"],
            state=SchemeState(v["state"]),
            process_ids=tuple(ProcessId.parse(p, lax=True) for p in v["process_ids"]),
            initial_release=v["initial_release"],
            deprecation_release=v["deprecation_release"],
            removal_date=v["removal_date"],
            category=v["category"],
        )
        for v in _load("document_types")["values"]
    )


@functools.cache
def _document_type_index() -> dict[DocumentTypeId, DocumentTypeEntry]:
    return {entry.identifier: entry for entry in document_types()}


def document_type_entry(doc: DocumentTypeId) -> DocumentTypeEntry | None:
    """The code list entry of a document type, matched exactly (document types are case-sensitive).

    A wildcard registration (``...billing-1@jp-1*::2.1``) is looked up without its ``*``, since the
    code list lists PINT document types without it.
    """
    index = _document_type_index()
    entry = index.get(doc)
    if entry is None and doc.is_wildcard and "*" in doc.value:
        try:
            plain = DocumentTypeId(doc.scheme, doc.value.replace("*", ""), lax=True)
        except ValueError:
            return None
        entry = index.get(plain)
    return entry


def document_type_name(doc: DocumentTypeId) -> str | None:
    """The human name of a document type (``"Peppol BIS Billing UBL Invoice V3"``), if listed."""
    entry = document_type_entry(doc)
    return None if entry is None else entry.name


@functools.cache
def processes() -> tuple[ProcessEntry, ...]:
    """Every process identifier of the code list."""
    return tuple(
        ProcessEntry(ProcessId(v["scheme"], v["value"], lax=True), SchemeState(v["state"]))
        for v in _load("processes")["values"]
    )


@functools.cache
def _process_index() -> dict[ProcessId, ProcessEntry]:
    return {entry.identifier: entry for entry in processes()}


def process_entry(process: ProcessId) -> ProcessEntry | None:
    """The code list entry of a process identifier, if listed."""
    return _process_index().get(process)


@functools.cache
def transport_profiles() -> tuple[TransportProfileEntry, ...]:
    """Every transport profile of the code list."""
    return tuple(
        TransportProfileEntry(
            profile=TransportProfile(v["profile_id"]),
            protocol=v["protocol"],
            profile_version=v["profile_version"],
            state=SchemeState(v["state"]),
            initial_release=v["initial_release"],
            deprecation_release=v["deprecation_release"],
            removal_date=v["removal_date"],
        )
        for v in _load("transport_profiles")["values"]
    )


def transport_profile_state(profile: TransportProfile | str) -> SchemeState | None:
    """The state of a transport profile (``None`` when the code list does not know it)."""
    value = profile.value if isinstance(profile, TransportProfile) else str(profile).strip()
    for entry in transport_profiles():
        if entry.profile.value == value:
            return entry.state
    return None


def warn_if_not_active(scheme: ParticipantScheme, *, stacklevel: int = 2) -> None:
    """Issue a :class:`CodeListWarning` a user can see when a scheme is deprecated or removed."""
    if scheme.state is SchemeState.ACTIVE:
        return
    when = f" (removal date {scheme.removal_date})" if scheme.removal_date else ""
    warnings.warn(
        f"participant scheme {scheme.icd} {scheme.scheme_id} is {scheme.state.value}{when}",
        CodeListWarning,
        stacklevel=stacklevel + 1,
    )
