"""Generated Swedish and Nordic company names for the search benchmark (fixed seed, no data files).

Names are built like real ones: a place, nature word or family name, a trade, a legal form for
the country ("Granvik Snickeri AB", "Solberg Rør AS", "Havgård Tømrer ApS", "Kuusi Logistiikka
Oy"), sometimes "& Son"/"& Dotter" or a second word. Typos are one edit: a deleted, inserted,
replaced or swapped letter, or a dropped accent.
"""

from __future__ import annotations

import random

FIRST = {
    "SE": [
        "Nordlys",
        "Fjällräv",
        "Granvik",
        "Älvdalens",
        "Tjörns",
        "Kvarnström",
        "Björkbacka",
        "Lövholmen",
        "Mälar",
        "Norr",
        "Tall",
        "Granit",
        "Fjäll",
        "Sjöberg",
        "Ekström",
        "Lindqvist",
        "Åkerlund",
        "Bergström",
        "Hägglund",
        "Sundsvalls",
        "Gävle",
        "Örebro",
        "Västerås",
        "Luleå",
        "Skärgårds",
        "Ljungby",
        "Hallands",
        "Dalarnas",
        "Vättern",
        "Östra",
        "Södra",
        "Lundgren",
        "Holmqvist",
        "Forsberg",
        "Strömsholm",
        "Solrosen",
        "Vintergatan",
        "Blåklint",
        "Rönnen",
        "Ängsholmen",
        "Myrberg",
        "Kullen",
        "Stenhammar",
        "Wikström",
        "Nyström",
        "Persson",
        "Karlsson",
        "Johansson",
        "Eriksson",
        "Gustafsson",
    ],
    "NO": [
        "Solberg",
        "Elv",
        "Lofoten",
        "Trondheim",
        "Vestland",
        "Hardanger",
        "Østfold",
        "Bergen",
        "Fjord",
        "Nordkapp",
        "Tromsø",
        "Stavanger",
        "Haugen",
        "Bakken",
        "Lien",
        "Dahl",
        "Sørlandet",
        "Hallingdal",
        "Røros",
        "Lillehammer",
        "Kristiansand",
        "Moen",
        "Strand",
        "Berg",
        "Nygård",
        "Aasen",
        "Fossum",
        "Jøssing",
        "Vik",
        "Bjørnstad",
    ],
    "DK": [
        "Havgård",
        "Fyn",
        "Lyngby",
        "Skagen",
        "Vester",
        "Ege",
        "Vesterhav",
        "Aarhus",
        "Odense",
        "Aalborg",
        "Esbjerg",
        "Bornholm",
        "Møller",
        "Sørensen",
        "Jørgensen",
        "Kjær",
        "Holm",
        "Nørre",
        "Søndergaard",
        "Kastrup",
        "Roskilde",
        "Herning",
        "Thy",
        "Mols",
        "Læsø",
    ],
    "FI": [
        "Kuusi",
        "Järvi",
        "Koivu",
        "Mänty",
        "Tampere",
        "Oulu",
        "Turku",
        "Lahti",
        "Virtanen",
        "Korhonen",
        "Mäkinen",
        "Nieminen",
        "Saimaa",
        "Lappi",
        "Kallio",
        "Pohjola",
        "Sisu",
        "Kivi",
        "Aalto",
        "Hämeen",
    ],
}
TRADE = {
    "SE": [
        "Bygg",
        "Konsult",
        "Handel",
        "Måleri",
        "Snickeri",
        "Bageri",
        "Transport",
        "Båtvarv",
        "Fastigheter",
        "Elektriska",
        "Rör",
        "Redovisning",
        "Städ",
        "Trädgård",
        "Verkstad",
        "Åkeri",
        "Data",
        "Import",
        "Livsmedel",
        "Tryckeri",
        "Glas",
        "Plåt",
        "Mekaniska",
        "Golv",
        "Design",
        "Juridik",
        "Tandvård",
        "Frisör",
        "Gård",
        "Maskin",
    ],
    "NO": [
        "Bygg",
        "Rør",
        "Eiendom",
        "IT",
        "Transport",
        "Frukt",
        "Regnskap",
        "Elektro",
        "Maling",
        "Fisk",
        "Snekkeri",
        "Handel",
        "Rådgivning",
        "Verksted",
        "Data",
        "Bakeri",
        "Anlegg",
    ],
    "DK": [
        "Tømrer",
        "Design",
        "Handel",
        "Bageri",
        "Fiskeri",
        "VVS",
        "El",
        "Murer",
        "Rådgivning",
        "Transport",
        "Revision",
        "Maskinfabrik",
        "Smedie",
        "Gartneri",
        "Data",
        "Vinhandel",
    ],
    "FI": [
        "Logistiikka",
        "Kuljetus",
        "Rakennus",
        "Konsultointi",
        "Kauppa",
        "Sähkö",
        "Leipomo",
        "Metalli",
        "Tilitoimisto",
        "Puutarha",
        "Kone",
        "Maalaus",
    ],
}
FORMS = {"SE": ["AB"], "NO": ["AS", "ASA"], "DK": ["ApS", "A/S"], "FI": ["Oy", "Oyj"]}
WEIGHTS = {"SE": 5, "NO": 2, "DK": 2, "FI": 1}
EXTRA = ["& Son", "& Dotter", "& Co", "Nord", "Syd", "Väst", "Öst", "Center", "Gruppen", "Service"]


def generate_names(count: int, seed: int = 20261127) -> list[str]:
    """``count`` distinct company names, mostly Swedish, reproducible from ``seed``."""
    rng = random.Random(seed)
    countries = [c for c, w in WEIGHTS.items() for _ in range(w)]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        cc = rng.choice(countries)
        parts = [rng.choice(FIRST[cc]), rng.choice(TRADE[cc])]
        if rng.random() < 0.25:
            parts.append(rng.choice(EXTRA))
        parts.append(rng.choice(FORMS[cc]))
        name = " ".join(parts)
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


LETTERS = "abcdefghijklmnopqrstuvwxyzåäö"


def typo(name: str, rng: random.Random) -> str:
    """``name`` with exactly one human typo in one of its letters."""
    positions = [i for i, c in enumerate(name) if c.isalpha()]
    i = rng.choice(positions)
    kind = rng.choice(["delete", "insert", "replace", "swap"])
    if kind == "delete":
        return name[:i] + name[i + 1 :]
    if kind == "insert":
        return name[:i] + rng.choice(LETTERS) + name[i:]
    if kind == "replace":
        options = [c for c in LETTERS if c != name[i].lower()]
        return name[:i] + rng.choice(options) + name[i + 1 :]
    j = i + 1 if i + 1 < len(name) and name[i + 1].isalpha() else i - 1
    a, b = sorted((i, j))
    return name[:a] + name[b] + name[a] + name[b + 1 :]
