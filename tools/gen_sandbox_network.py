"""Generate the default sandbox network and the demo customer register.

Writes (deterministically - same seed, same bytes):

* ``fixtures/sandbox-network.toml`` and its packaged copy
  ``src/peppolnet/data/sandbox-network.toml`` (so that users who ``pip install peppolnet``
  get the same default network in the pytest plugin);
* ``fixtures/customers.csv`` - a customer register for the demo (and a packaged copy,
  ``src/peppolnet/data/demo-customers.csv``).

Nothing here is copied from elsewhere: company names are made up from word lists, and every
organisation number is computed so that it passes its scheme's check digits (Luhn for Swedish
0007, mod 11 for Norwegian 0192 and Danish CVR 0184, the Y-tunnus rule inside Finnish OVT 0216,
mod 97 for Belgian 0208/9925, the ISO 7064 rule of German VAT 9930, mod 11 for Dutch VAT 9944).

Run: ``python tools/gen_sandbox_network.py``
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20260801

INVOICE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
CREDIT_NOTE = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote"
    "##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
SELF_BILLING = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:selfbilling:01:1.0"

QUIRKS = (
    "expired-ap-certificate",
    "endpoint-not-yet-active",
    "endpoint-expired",
    "unsigned",
    "bad-signature",
    "wrong-participant-echo",
    "http-endpoint",
    "http-smp",
    "redirect",
    "legacy-cname",
    "no-meta-smp",
    "dns-servfail",
    "smp-500",
    "old-transport-profile",
    "sha1-signature",
    "expired-smp-certificate",
    "missing-document-type",
    "wrong-process",
)
PER_QUIRK = 3

# id, name, seat, country, dialect, path
OPERATORS = (
    ("kvittra", "Kvittra AB", "PSE000102", "SE", "peppol-smp-1", ""),
    ("norrsken", "Norrsken Invoice AB", "PSE000109", "SE", "peppol-smp-1", ""),
    ("fjordpost", "Fjordpost AS", "PNO000101", "NO", "peppol-smp-1", ""),
    ("sundnet", "Sundnet ApS", "PDK000104", "DK", "peppol-smp-1", ""),
    ("revontuli", "Revontuli Oy", "PFI000105", "FI", "peppol-smp-1", ""),
    ("brugge", "Brugge Billing BV", "PBE000106", "BE", "peppol-smp-1", ""),
    ("rheinpost", "Rheinpost GmbH", "PDE000107", "DE", "peppol-smp-1", "/smp"),
    ("polderlink", "Polderlink BV", "PNL000108", "NL", "oasis-smp-1", ""),
    ("kanal2", "Kanal Zwei eDelivery GmbH", "PDE000110", "DE", "oasis-smp-2", ""),
)

WORDS = {
    "SE": (
        [
            "Nordlys",
            "Fjäll",
            "Björk",
            "Älv",
            "Skog",
            "Sjö",
            "Granit",
            "Ek",
            "Lind",
            "Berg",
            "Strand",
            "Vik",
            "Holm",
            "Dal",
            "Ås",
            "Ljung",
            "Tall",
            "Kust",
            "Mälar",
            "Norr",
        ],
        [
            "Bygg",
            "Konsult",
            "Trä",
            "El",
            "Måleri",
            "Transport",
            "Data",
            "Design",
            "Rör",
            "Handel",
            "Café",
            "Verkstad",
            "Fastigheter",
            "Revision",
            "Media",
            "Städ",
        ],
        "AB",
        ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Umeå", "Luleå", "Örebro", "Västerås"],
    ),
    "NO": (
        [
            "Fjord",
            "Solberg",
            "Nordkapp",
            "Vestland",
            "Havbris",
            "Lofoten",
            "Trondheim",
            "Fjell",
            "Bjørk",
            "Elv",
            "Nord",
            "Sør",
        ],
        ["Rør", "Bygg", "Regnskap", "Fisk", "Transport", "Elektro", "Maskin", "Eiendom", "IT"],
        "AS",
        ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø"],
    ),
    "DK": (
        ["Havgård", "Sønder", "Nørre", "Øster", "Vester", "Lyngby", "Skagen", "Fyn", "Ege"],
        ["Tømrer", "Data", "Rådgivning", "Handel", "VVS", "Logistik", "Design", "Bageri"],
        "ApS",
        ["København", "Aarhus", "Odense", "Aalborg", "Esbjerg"],
    ),
    "FI": (
        ["Kuusi", "Järvi", "Revontuli", "Koivu", "Saimaa", "Lappi", "Meri", "Kallio", "Tunturi"],
        ["Logistiikka", "Rakennus", "Konsultointi", "Sähkö", "Kuljetus", "Tekniikka", "Data"],
        "Oy",
        ["Helsinki", "Tampere", "Turku", "Oulu", "Espoo"],
    ),
    "BE": (
        [
            "Atelier Van Damme",
            "Lemaire",
            "De Smet",
            "Peeters",
            "Maes",
            "Janssens",
            "Dubois",
            "Van den Berg",
            "Wouters",
            "Claes",
        ],
        ["Bouw", "Consult", "Logistics", "Chocolaterie", "Brouwerij", "Techniek", "Immo"],
        "NV",
        ["Brussel", "Antwerpen", "Gent", "Liège", "Brugge", "Namur"],
    ),
    "DE": (
        [
            "Brauhaus Keller",
            "Schmidt",
            "Rheintal",
            "Nordsee",
            "Bergmann",
            "Hansen",
            "Alpen",
            "Weber",
            "Becker",
        ],
        ["Bau", "Logistik", "Beratung", "Technik", "Handel", "Elektro", "Software"],
        "GmbH",
        ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Bremen"],
    ),
    "NL": (
        ["Molen de Vries", "Van Dijk", "Polder", "Zeeland", "Bakker", "Visser", "Tulp", "Jansen"],
        ["Bouw", "Transport", "Advies", "Techniek", "Handel", "ICT", "Installatie"],
        "BV",
        ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen"],
    ),
}

# Named companies the demo talks about: (name, country, operator); never quirky.
NAMED = (
    ("Nordlys Bygg AB", "SE", "kvittra"),
    ("Fjällräv Konsult AB", "SE", "norrsken"),
    ("Solberg Rør AS", "NO", "fjordpost"),
    ("Havgård ApS", "DK", "sundnet"),
    ("Kuusi Logistiikka Oy", "FI", "revontuli"),
    ("Atelier Van Damme NV", "BE", "brugge"),
    ("Brauhaus Keller GmbH", "DE", "rheinpost"),
    ("Molen de Vries BV", "NL", "polderlink"),
)

COUNTS = {"SE": 60, "NO": 35, "DK": 25, "FI": 25, "BE": 25, "DE": 20, "NL": 20}
DIRECTORY_ONLY = 20


# --- check digits -------------------------------------------------------------------------------


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def se_orgnr(rng: random.Random) -> str:
    body = "55" + "".join(rng.choice("0123456789") for _ in range(7))
    return body + luhn_digit(body)


def mod11(body: str, weights: tuple[int, ...]) -> str | None:
    rest = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    check = 0 if rest == 0 else 11 - rest
    return None if check == 10 else str(check)


def no_orgnr(rng: random.Random) -> str:
    while True:
        body = "9" + "".join(rng.choice("0123456789") for _ in range(7))
        check = mod11(body, (3, 2, 7, 6, 5, 4, 3, 2))
        if check is not None:
            return body + check


def dk_cvr(rng: random.Random) -> str:
    while True:
        body = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(6))
        rest = sum(int(d) * w for d, w in zip(body, (2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        check = (11 - rest) % 11
        if check < 10:
            return body + str(check)


def fi_ytunnus(rng: random.Random) -> str:
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(7))
        rest = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if rest == 1:
            continue
        return body + str(0 if rest == 0 else 11 - rest)


def be_enterprise(rng: random.Random) -> str:
    first = "0" + rng.choice("4789") + "".join(rng.choice("0123456789") for _ in range(6))
    return first + f"{97 - int(first) % 97:02d}"


def de_vat(rng: random.Random) -> str:
    """DE + 9 digits, ISO 7064 MOD 11,10 check digit."""
    body = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(7))
    product = 10
    for ch in body:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    return "DE" + body + str((11 - product) % 10)


def nl_vat(rng: random.Random) -> str:
    """NL + 9 digits (mod 11 'elfproef') + B01."""
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(8))
        total = sum(int(d) * w for d, w in zip(body, range(9, 1, -1), strict=True)) % 11
        if total < 10 and body[0] != "0":
            return f"NL{body}{total}B01"


def nl_kvk(rng: random.Random) -> str:
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(7))


def make_id(country: str, rng: random.Random, index: int) -> tuple[str, str, str]:
    """(participant id, card identifier scheme, card identifier value)."""
    if country == "SE":
        n = se_orgnr(rng)
        return f"0007:{n}", "SE:ORGNR", n
    if country == "NO":
        n = no_orgnr(rng)
        return f"0192:{n}", "NO:ORG", n
    if country == "DK":
        n = dk_cvr(rng)
        return f"0184:{n}", "DK:CVR", n
    if country == "FI":
        n = fi_ytunnus(rng)
        return f"0216:0037{n}", "FI:YTUNNUS", f"{n[:7]}-{n[7]}"
    if country == "BE":
        n = be_enterprise(rng)
        return f"0208:{n}", "BE:EN", n
    if country == "DE":
        n = de_vat(rng)
        return f"9930:{n}", "DE:VAT", n
    if index % 2:
        n = nl_kvk(rng)
        return f"0106:{n}", "NL:KVK", n
    n = nl_vat(rng)
    return f"9944:{n}", "NL:VAT", n


# --- the network --------------------------------------------------------------------------------


def slug(name: str) -> str:
    table = str.maketrans("åäöøæéü", "aaooaeu")
    out = "".join(c if c.isalnum() else "-" for c in name.lower().translate(table))
    return "-".join(part for part in out.split("-") if part)


def q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build() -> tuple[str, list[dict[str, object]]]:
    rng = random.Random(SEED)
    operators_by_country: dict[str, list[str]] = {}
    for op_id, _, _, country, _, _ in OPERATORS:
        operators_by_country.setdefault(country, []).append(op_id)
    all_ops = [o[0] for o in OPERATORS]

    used_names: set[str] = set()
    participants: list[dict[str, object]] = []

    def new_name(country: str) -> str:
        first, second, form, _ = WORDS[country]
        while True:
            name = f"{rng.choice(first)} {rng.choice(second)} {form}"
            if name not in used_names:
                used_names.add(name)
                return name

    def add(name: str, country: str, operator: str, in_sml: bool, index: int) -> None:
        pid, id_scheme, id_value = make_id(country, rng, index)
        city = rng.choice(WORDS[country][3])
        site = slug(name)
        reg = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(0, 6 * 365))
        participants.append(
            {
                "id": pid,
                "name": name,
                "country": country,
                "operator": operator,
                "in_sml": in_sml,
                "quirks": [],
                "card": {
                    "geographical_info": city,
                    "websites": [f"https://www.{site}.example"],
                    "identifiers": [f"{id_scheme}:{id_value}"],
                    "registration_date": reg,
                    "contact_email": f"faktura@{site}.example",
                },
            }
        )

    for name, country, operator in NAMED:
        used_names.add(name)
        add(name, country, operator, True, 0)
    named_count = len(participants)
    for country, count in COUNTS.items():
        local_ops = operators_by_country.get(country, [])
        for i in range(count - sum(1 for n in NAMED if n[1] == country)):
            # most companies use a local operator, some a foreign one
            pool = local_ops if local_ops and rng.random() < 0.8 else all_ops
            add(new_name(country), country, rng.choice(pool), True, i)
    # a Belgian company registered only under its VAT number (9925), not its enterprise number
    n = be_enterprise(rng)
    participants.append(
        {
            "id": f"9925:BE{n}",
            "name": "Chocolaterie Lemaire SRL",
            "country": "BE",
            "operator": "brugge",
            "in_sml": True,
            "quirks": [],
            "card": {
                "geographical_info": "Namur",
                "websites": ["https://www.chocolaterie-lemaire.example"],
                "identifiers": [f"BE:VAT:BE{n}"],
                "registration_date": dt.date(2023, 3, 14),
                "contact_email": "facturation@chocolaterie-lemaire.example",
            },
        }
    )
    # quirks: PER_QUIRK participants each, never the named demo companies
    candidates = list(range(named_count, len(participants) - 1))
    rng.shuffle(candidates)
    for qi, quirk in enumerate(QUIRKS):
        for k in range(PER_QUIRK):
            p = participants[candidates[qi * PER_QUIRK + k]]
            p["quirks"] = [quirk]
    # in the Directory, not in the SML (stale business cards, or never finished registering)
    countries = list(COUNTS)
    for i in range(DIRECTORY_ONLY):
        country = countries[i % len(countries)]
        local_ops = operators_by_country.get(country, all_ops)
        add(new_name(country), country, rng.choice(local_ops), False, i)
    return render_toml(participants), participants


def render_toml(participants: list[dict[str, object]]) -> str:
    out = io.StringIO()
    w = out.write
    w("# The default peppolnet sandbox network. GENERATED by tools/gen_sandbox_network.py -\n")
    w("# do not edit by hand; change the generator and run it again. Every company is made\n")
    w("# up; every organisation number is computed to pass its scheme's check digits.\n\n")
    w('[network]\nname = "sandbox"\nzone = "sml.sandbox.peppolnet.test"\n\n')
    for op_id, name, seat, country, _, _ in OPERATORS:
        w("[[operators]]\n")
        w(f"id = {q(op_id)}\nname = {q(name)}\nseat_id = {q(seat)}\ncountry = {q(country)}\n")
        w(f"smp = {q(op_id + '-smp')}\n")
        w(f"ap_url = {q(f'https://ap.{op_id}.sandbox.peppolnet.test/as4')}\n")
        w(f"email = {q(f'onboarding@{op_id}.example')}\n\n")
    for op_id, _, _, _, dialect, path in OPERATORS:
        w(f"[[smps]]\nid = {q(op_id + '-smp')}\noperator = {q(op_id)}\ndialect = {q(dialect)}\n")
        if path:
            w(f"path = {q(path)}\n")
        w("\n")
    for p in participants:
        card = p["card"]
        assert isinstance(card, dict)
        w("[[participants]]\n")
        w(f"id = {q(str(p['id']))}\nname = {q(str(p['name']))}\ncountry = {q(str(p['country']))}\n")
        w(f"operator = {q(str(p['operator']))}\n")
        quirks = p["quirks"]
        assert isinstance(quirks, list)
        docs = [INVOICE, CREDIT_NOTE]
        if "missing-document-type" in quirks:
            docs = [CREDIT_NOTE]
        w("document_types = [\n" + "".join(f"  {q(d)},\n" for d in docs) + "]\n")
        if "wrong-process" in quirks:
            w(f"process = {q(SELF_BILLING)}\n")
        if quirks:
            w("quirks = [" + ", ".join(q(x) for x in quirks) + "]\n")
        if not p["in_sml"]:
            w("in_sml = false\n")
        w("[participants.business_card]\n")
        w(f"geographical_info = {q(card['geographical_info'])}\n")
        w("websites = [" + ", ".join(q(x) for x in card["websites"]) + "]\n")
        w("identifiers = [" + ", ".join(q(x) for x in card["identifiers"]) + "]\n")
        w(f"registration_date = {card['registration_date'].isoformat()}\n")
        w("[[participants.business_card.contacts]]\n")
        w(f'type = "invoicing"\nemail = {q(card["contact_email"])}\n\n')
    return out.getvalue()


def customers(participants: list[dict[str, object]]) -> str:
    """~40 rows: registered, quirky, Directory-only ("missing"), unknown and malformed."""
    rng = random.Random(SEED + 1)
    rows: list[tuple[str, str, str, str]] = []

    def local_number(p: dict[str, object]) -> str:
        pid = str(p["id"])
        value = pid.split(":", 1)[1]
        if pid.startswith("0007:"):
            return f"{value[:6]}-{value[6:]}"  # as Swedes write it
        if pid.startswith("0216:0037"):
            return f"{value[4:11]}-{value[11]}"
        return value

    def email(name: str) -> str:
        return f"ekonomi@{slug(name)}.example"

    named = [p for p in participants if p["name"] in {n[0] for n in NAMED}]
    clean = [p for p in participants if p["in_sml"] and not p["quirks"] and p not in named]
    quirky = [p for p in participants if p["quirks"]]
    dir_only = [p for p in participants if not p["in_sml"]]
    pick: list[dict[str, object]] = named + rng.sample(clean, 12) + rng.sample(quirky, 6)
    pick += dir_only[:5]
    for p in pick:
        rows.append((str(p["name"]), local_number(p), str(p["country"]), email(str(p["name"]))))
    unknown: list[tuple[str, Callable[[random.Random], str], str]] = [
        ("Granvik Snickeri AB", se_orgnr, "SE"),
        ("Älvdalens Bageri AB", se_orgnr, "SE"),
        ("Tjörns Båtvarv AB", se_orgnr, "SE"),
        ("Kvarnström & Dotter AB", se_orgnr, "SE"),
        ("Hardanger Frukt AS", no_orgnr, "NO"),
        ("Vesterhav Fiskeri ApS", dk_cvr, "DK"),
    ]
    for name, gen, country in unknown:
        number = gen(rng)
        if country == "SE":
            number = f"{number[:6]}-{number[6:]}"
        rows.append((name, number, country, email(name)))
    rows += [
        ("Björkbacka Gård AB", "556677-8899", "SE", "info@bjorkbacka.example"),  # bad Luhn
        ("Lövholmen Konsult AB", "", "SE", "ekonomi@lovholmen.example"),  # no number
        ("Norrbyn Fastigheter", "55-12", "SE", "not-an-email"),  # too short, bad e-mail
        ("Østfold Regnskap AS", "123456784", "NO", "post@ostfold-regnskap.example"),  # bad mod11
        ("Sisu Kuljetus Oy", "1234567-8", "Suomi", "laskut@sisu.example"),  # bad country
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "org_number", "country", "email"])
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    toml_text, participants = build()
    for target in (
        ROOT / "fixtures" / "sandbox-network.toml",
        ROOT / "src" / "peppolnet" / "data" / "sandbox-network.toml",
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(toml_text, encoding="utf-8")
    register = customers(participants)
    (ROOT / "fixtures" / "customers.csv").write_text(register, encoding="utf-8")
    # packaged too, so `pip install . && peppolnet demo` works without a source checkout
    (ROOT / "src" / "peppolnet" / "data" / "demo-customers.csv").write_text(
        register, encoding="utf-8"
    )
    in_sml = sum(1 for p in participants if p["in_sml"])
    print(f"{len(participants)} participants ({in_sml} in the SML), {len(OPERATORS)} operators")


if __name__ == "__main__":
    main()
