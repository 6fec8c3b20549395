"""Company-name matching that forgives what people do when they type names.

People type "fjallrav konsult", "Konsult Fjällräv", "Fjälräv Konsult AB" for "Fjällräv Konsult AB".
So both sides are normalised first (:func:`normalise_name`: case folded, accents and Nordic
letters folded to ASCII - å/ä -> a, ö/ø -> o, æ -> ae - punctuation dropped, "&" -> "och"
spelled the same on both sides) and then scored with RapidFuzz: ``WRatio`` covers typos, word order
(token sort/set) and partial names; legal forms (AB, AS, ApS, Oy, GmbH...) are scored separately and
only break ties, so "Solberg Bygg" finds "Solberg Bygg AS" but "Solberg Bygg AB" still wins for a
query that says AB.

Pure functions: no database here; :class:`~peppolnet.recipients.directory.RecipientDirectory`
feeds the candidates in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final, Generic, TypeVar

from rapidfuzz import fuzz, process

__all__ = ["LEGAL_FORMS", "NameIndex", "name_score", "normalise_name", "rank", "split_legal_form"]

K = TypeVar("K")

# Letters NFKD does not decompose into ASCII.
_FOLD: Final = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "þ": "th", "ð": "d", "đ": "d", "ł": "l", "ı": "i"}
)
_NON_WORD: Final = re.compile(r"[^0-9a-z]+")

LEGAL_FORMS: Final[frozenset[str]] = frozenset(
    {
        # Nordic
        "ab", "abp", "publ", "hb", "kb", "ek", "för", "as", "asa", "ans", "da", "sa", "nuf",
        "aps", "a/s", "is", "i/s", "ivs", "k/s", "amba", "oy", "oyj", "ky", "tmi", "ry", "ehf",
        "hf", "sf", "ses",
        # elsewhere in Europe
        "gmbh", "ag", "kg", "ohg", "ug", "ev", "bv", "nv", "vof", "bvba", "srl", "sprl", "sas",
        "sarl", "spa", "sl", "ltd", "limited", "plc", "llc", "inc", "co", "corp", "oü", "uab",
        "sia", "ou",
    }
)  # fmt: skip
_LEGAL_KEYS: Final = frozenset(_NON_WORD.sub("", f) for f in LEGAL_FORMS)


def normalise_name(name: str) -> str:
    """Fold ``name`` to lower-case ASCII words separated by single spaces.

    >>> normalise_name("  Fjällräv Konsult AB ")
    'fjallrav konsult ab'
    >>> normalise_name("Østfold Regnskap A/S")
    'ostfold regnskap as'
    >>> normalise_name("Kvarnström & Dotter")
    'kvarnstrom och dotter'
    """
    text = unicodedata.normalize("NFKC", name).casefold().translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"(?<=\w)/(?=\w)", "", text)  # A/S, I/S -> as, is
    text = text.replace("&", " och ")
    return " ".join(_NON_WORD.sub(" ", text).split())


def split_legal_form(key: str) -> tuple[str, str]:
    """A normalised name -> (the name without legal-form words, the legal-form words).

    >>> split_legal_form("fjallrav konsult ab")
    ('fjallrav konsult', 'ab')

    A name that is nothing but legal-form words keeps them as its core.
    """
    words = key.split()
    core = [w for w in words if w not in _LEGAL_KEYS]
    forms = [w for w in words if w in _LEGAL_KEYS]
    if not core:
        return key, ""
    return " ".join(core), " ".join(forms)


def name_score(query: str, name: str) -> float:
    """How well ``query`` matches ``name``, 0-100 (both raw; they are normalised here)."""
    return _score(split_legal_form(normalise_name(query)), split_legal_form(normalise_name(name)))


def _score(query: tuple[str, str], name: tuple[str, str]) -> float:
    q_core, q_form = query
    n_core, n_form = name
    core = fuzz.WRatio(q_core, n_core, processor=None)
    # Exact word order and full length beat a partial or reordered match by a little.
    exact = fuzz.ratio(q_core, n_core, processor=None)
    form = 0.0
    if q_form and n_form:
        form = 100.0 if q_form == n_form else fuzz.ratio(q_form, n_form, processor=None)
    elif not q_form:
        form = 50.0
    return 0.90 * core + 0.08 * exact + 0.02 * form


class NameIndex(Generic[K]):
    """Candidates ``(key, name_key)`` with their cores split off once, ready to rank many queries.

    ``name_key`` values are already normalised (:func:`normalise_name`). Building costs one pass
    in Python; each :meth:`rank` is then a C++ scan in RapidFuzz plus a re-rank of a few hundred,
    so a directory keeps one index until its data changes.
    """

    def __init__(self, candidates: Iterable[tuple[K, str]]) -> None:
        self.items: Sequence[tuple[K, str]] = list(candidates)
        self.cores = [split_legal_form(key)[0] for _, key in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def rank(self, query: str, *, limit: int = 10, cutoff: float = 60.0) -> list[tuple[K, float]]:
        """The best ``limit`` candidates for ``query``, best first, with 0-100 scores.

        A cheap first pass (``WRatio`` on the cores) keeps the best few hundred; the full score
        re-ranks those. Ties are broken by the name so the order is stable.
        """
        q = split_legal_form(normalise_name(query))
        if not q[0] or limit <= 0:
            return []
        first = process.extract(
            q[0],
            self.cores,
            scorer=fuzz.WRatio,
            processor=None,
            limit=max(limit * 20, 200),
            score_cutoff=max(cutoff - 15.0, 0.0),
        )
        scored: list[tuple[float, str, K]] = []
        for _, _, index in first:
            key, name_key = self.items[index]
            score = _score(q, split_legal_form(name_key))
            if score >= cutoff:
                scored.append((score, name_key, key))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [(key, round(score, 1)) for score, _, key in scored[:limit]]


def rank(
    query: str,
    candidates: Iterable[tuple[K, str]],
    *,
    limit: int = 10,
    cutoff: float = 60.0,
) -> list[tuple[K, float]]:
    """One-off :meth:`NameIndex.rank` over ``candidates`` (``(key, normalised name)`` pairs)."""
    return NameIndex(candidates).rank(query, limit=limit, cutoff=cutoff)
