"""A large synthetic Directory export, streamed and deterministic: the benchmark's data.

The real export holds well over a million business cards; nothing that large may be copied
into the project, and a benchmark needs the same file on every run. So the cards are made up
from a seed: countries in proportions like the real network's, the identifier schemes each
country uses (some companies registered twice, under equivalent schemes - BE 0208 and 9925,
SE 0007 and 9955, DE 9930 and 0246 - as real ones are), names, contacts, registration dates
spread over the years, and document types from the Peppol code list in realistic sets (BIS
Billing invoice and credit note for nearly all, PINT where PINT is used, ordering, MLR/MLS,
self-billing). The same seed gives the same cards, byte for byte, in any format.

    >>> first = [c.participant_value for c in synthetic_cards(3, seed=7)]
    >>> first == [c.participant_value for c in synthetic_cards(3, seed=7)]
    True
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory.export.kinds import ExportKind
from peppolnet.directory.export.records import ExportCard, ExportDocumentType
from peppolnet.directory.export.write import write_export

__all__ = ["synthetic_cards", "write_synthetic_export"]

# country, weight, legal form, language, identifier schemes with weights (ICD, weight, shape)
_COUNTRIES: Final = (
    ("BE", 20, "BV", "nl", (("0208", 8, "0#########"), ("9925", 2, "BE0#########"))),
    ("DE", 12, "GmbH", "de", (("9930", 5, "DE#########"), ("0204", 4, "##-####-##"),
                              ("0246", 1, "DE#########"))),
    ("NL", 10, "B.V.", "nl", (("0106", 6, "########"), ("0190", 3, "0000000########0000"),
                              ("9944", 1, "NL#########B01"))),
    ("NO", 8, "AS", "no", (("0192", 10, "#########"),)),
    ("SE", 8, "AB", "sv", (("0007", 8, "55########"), ("9955", 1, "SE55########01"),
                           ("0088", 1, "73#########0#"))),
    ("DK", 6, "ApS", "da", (("0184", 8, "########"), ("0088", 2, "57#########0#"))),
    ("FR", 5, "SAS", "fr", (("0009", 6, "##############"), ("0002", 4, "#########"))),
    ("IT", 5, "S.r.l.", "it", (("0211", 6, "IT###########"), ("0201", 4, "######"))),
    ("FI", 4, "Oy", "fi", (("0216", 8, "0037########"), ("0037", 2, "0037########"))),
    ("AT", 3, "GmbH", "de", (("9915", 6, "b######"), ("9914", 4, "ATU########"))),
    ("AU", 3, "Pty Ltd", "en", (("0151", 10, "###########"),)),
    ("SG", 2, "Pte Ltd", "en", (("0195", 10, "sguen#########"),)),
    ("JP", 2, "K.K.", "ja", (("0188", 10, "#############"),)),
    ("GB", 2, "Ltd", "en", (("9932", 6, "GB#########"), ("0088", 4, "50#########0#"))),
    ("PL", 2, "Sp. z o.o.", "pl", (("9945", 10, "PL##########"),)),
    ("EE", 1, "OÜ", "et", (("0191", 10, "1#######"),)),
    ("LU", 1, "S.A.", "fr", (("9938", 10, "LU########"),)),
    ("IE", 1, "Ltd", "en", (("9935", 10, "IE#######A"),)),
    ("MY", 1, "Sdn Bhd", "en", (("0230", 10, "C##########"),)),
    ("NZ", 1, "Ltd", "en", (("0088", 10, "94#########0#"),)),
)  # fmt: skip
# second registrations under an equivalent scheme (see peppolnet.analytics.organisations)
_TWINS: Final = {"0208": ("9925", "BE{}"), "0007": ("9955", "SE{}01"), "9930": ("0246", "{}")}
_WORDS: Final = (
    "Nord", "Fjord", "Alpen", "Delta", "Polar", "Solid", "Vega", "Orion", "Lumen", "Atlas",
    "Bergen", "Linde", "Aurora", "Kobalt", "Mistral", "Granit", "Saga", "Tundra", "Zenit", "Iris",
    "Helix", "Boreal", "Cedar", "Dune", "Ember", "Falk", "Gaia", "Hav", "Isbjørn", "Jade",
)  # fmt: skip
_TRADES: Final = (
    "Bygg", "Logistik", "Consulting", "Foods", "Tech", "Energi", "Transport", "Design",
    "Medical", "Software", "Trading", "Service", "Holding", "Systems", "Retail", "Dental",
)  # fmt: skip
_PINT_COUNTRIES: Final = frozenset({"AU", "NZ", "SG", "JP", "MY"})


def _document_types() -> dict[str, tuple[ExportDocumentType, ...]]:
    """Groups of real document types from the code list, as the Directory would label them."""
    from peppolnet.codelists import document_types

    wanted = {
        "billing": ("poacc:billing:3.0::2.1", "poacc:billing:3.0::D16B"),
        "response": ("poacc:trns:invoice_response:3::",),
        "pint": ("urn:peppol:pint:billing-1@aunz-1::", "urn:peppol:pint:billing-1@sg-1::",
                 "urn:peppol:pint:billing-1@jp-1::"),
        "ordering": ("poacc:trns:order:3::", "poacc:trns:order_response:3::"),
        "mlr": ("poacc:trns:mlr:3::", "urn:peppol:edec:mls:1.0::"),
        "selfbilling": ("poacc:selfbilling:3.0::",),
        "xrechnung": ("kosit:xrechnung_3.0::",),
        "nlcius": ("urn:fdc:nen.nl:nlcius:v1.0::",),
    }  # fmt: skip
    groups: dict[str, list[ExportDocumentType]] = {name: [] for name in wanted}
    for entry in document_types():
        if entry.state.value == "removed":
            continue
        value = entry.identifier.value
        for name, needles in wanted.items():
            if any(value.endswith(needle) or f"{needle}" in value for needle in needles) and (
                "#conformant#" not in value or name == "pint"
            ):
                groups[name].append(
                    ExportDocumentType(
                        entry.identifier.scheme, value, entry.name, entry.state.value
                    )
                )
    return {name: tuple(docs) for name, docs in groups.items()}


def _number(rng: random.Random, shape: str) -> str:
    return "".join(str(rng.randrange(10)) if c == "#" else c for c in shape)


class _Maker:
    """The random choices behind one stream of cards."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.countries = [c for c in _COUNTRIES for _ in range(c[1])]
        self.docs = _document_types()
        self.used: set[str] = set()  # participant values: each one once, as in a real export
        self.first_day = date(2018, 1, 1)
        self.days = (date(2026, 6, 30) - self.first_day).days

    def card(self, index: int) -> tuple[ExportCard, ExportCard | None]:
        """A card, and sometimes the same company's second registration (a twin)."""
        rng = self.rng
        country, _, form, language, schemes = rng.choice(self.countries)
        icd, _, shape = rng.choices(schemes, weights=[s[1] for s in schemes])[0]
        number = _number(rng, shape)
        while f"{icd}:{number}" in self.used:
            number = _number(rng, shape)
        self.used.add(f"{icd}:{number}")
        entity = self._entity(country, form, language, index)
        docs = self._doc_types(country)
        card = ExportCard("iso6523-actorid-upis", f"{icd}:{number}", (entity,), docs)
        twin = None
        if icd in _TWINS and rng.random() < 0.06:
            other, pattern = _TWINS[icd]
            value = f"{other}:{pattern.format(number)}"
            if value not in self.used:
                self.used.add(value)
                twin = ExportCard("iso6523-actorid-upis", value, (entity,), docs)
        return card, twin

    def _entity(self, country: str, form: str, language: str, index: int) -> BusinessEntity:
        rng = self.rng
        name = f"{rng.choice(_WORDS)} {rng.choice(_TRADES)} {form}"
        names = (Name(name, language if rng.random() < 0.5 else None),)
        ids: tuple[tuple[str, str], ...] = ()
        if rng.random() < 0.4:
            ids = (("VAT", f"{country}{rng.randrange(10**8, 10**9)}"),)
        contacts: tuple[Contact, ...] = ()
        if rng.random() < 0.3:
            slug = name.split()[0].lower()
            contacts = (Contact("Invoicing", "Accounts payable", None, f"ap{index}@{slug}.test"),)
        site = f"https://www.{name.split()[0].lower()}{index}.test"
        websites = (site,) if rng.random() < 0.2 else ()
        # more registrations in later years: the network grows
        day = int(self.days * rng.random() ** 0.6)
        registered = self.first_day + timedelta(days=day)
        geo = f"{rng.choice(_WORDS)}gatan {rng.randrange(1, 99)}" if rng.random() < 0.3 else None
        return BusinessEntity(names, country, geo, ids, websites, contacts, None, registered)

    def _doc_types(self, country: str) -> tuple[ExportDocumentType, ...]:
        rng, docs = self.rng, self.docs
        chosen: list[ExportDocumentType] = []
        # the shares are guesses at the real network's, to make cards of a realistic size
        if rng.random() < 0.92:
            billing = docs["billing"]
            chosen.extend(billing if rng.random() < 0.5 else billing[:2])  # with CII or not
        if rng.random() < 0.35:
            chosen.extend(docs["response"])
        if country in _PINT_COUNTRIES and rng.random() < 0.7:
            chosen.extend(d for d in docs["pint"] if f"@{country.lower()}" in d.value
                          or (country in ("AU", "NZ") and "@aunz" in d.value))  # fmt: skip
        if rng.random() < 0.15:
            chosen.extend(docs["ordering"])
        if rng.random() < 0.4:
            chosen.extend(docs["mlr"])
        if rng.random() < 0.04:
            chosen.extend(docs["selfbilling"])
        if country == "DE" and rng.random() < 0.6:
            chosen.extend(docs["xrechnung"])
        if country == "NL" and rng.random() < 0.6:
            chosen.extend(docs["nlcius"])
        return tuple(dict.fromkeys(chosen))


def synthetic_cards(count: int, seed: int = 2026) -> Iterator[ExportCard]:
    """``count`` business cards made up from ``seed`` (the same seed, the same cards)."""
    maker = _Maker(seed)
    made = 0
    index = 0
    while made < count:
        card, twin = maker.card(index)
        index += 1
        yield card
        made += 1
        if twin is not None and made < count:
            yield twin
            made += 1


def write_synthetic_export(
    path: str | Path,
    count: int,
    *,
    seed: int = 2026,
    kind: ExportKind = ExportKind.BUSINESS_CARDS_XML,
) -> Path:
    """Write ``count`` synthetic cards as the export file ``kind`` to ``path``; returns it."""
    target = Path(path)
    with target.open("wb") as out:
        write_export(synthetic_cards(count, seed), kind, out, count=count)
    return target
