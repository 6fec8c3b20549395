"""Migration keys: the SML rules (FACTS.md §7), the reference pattern, and the generator."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.errors import InvalidInput
from peppolnet.i18n import joined
from peppolnet.recipients.migration import (
    MIGRATION_KEY_RE,
    MIGRATION_KEY_SPECIALS,
    check_migration_key,
    generate_migration_key,
    is_valid_migration_key,
)


@pytest.mark.parametrize(
    "key", ["Ab12@#cdEF", "AB12ab!~", "ZZzz99(){}[]", "aB3$cD4%eF5^gH6*iJ7|kL8+", "xY_1-2Zq"]
)
def test_good_keys(key: str) -> None:
    assert check_migration_key(key) == []
    assert MIGRATION_KEY_RE.fullmatch(key)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", ["must not be empty"]),
        ("Ab1@", ["must be 8 to 24 characters long (it has 4)",
                  "needs at least 2 digits (0-9) (it has 1)"]),
    ],
)  # fmt: skip
def test_sentences(key: str, expected: list[str]) -> None:
    problems = check_migration_key(key)
    for sentence in expected:
        assert sentence in problems


def test_each_rule_is_named() -> None:
    assert any("whitespace" in p for p in check_migration_key("Ab12@#\tcdEF"))
    assert any("upper-case" in p for p in check_migration_key("ab12@#cdef"))
    assert any("lower-case" in p for p in check_migration_key("AB12@#CDEF"))
    assert any("special" in p for p in check_migration_key("Ab12cdEF34"))
    assert any("24" in p for p in check_migration_key("Ab12@#cdEF" * 3))
    assert any("special" in p for p in check_migration_key("Ab12..cdEF"))  # '.' is not special


@given(st.text(max_size=30))
def test_rules_agree_with_the_reference_pattern(key: str) -> None:
    assert is_valid_migration_key(key) == (MIGRATION_KEY_RE.fullmatch(key) is not None)


@given(st.integers(min_value=8, max_value=24))
def test_generated_keys_are_valid(length: int) -> None:
    key = generate_migration_key(length)
    assert len(key) == length
    assert is_valid_migration_key(key)
    assert set(key) <= set(
        "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789" + MIGRATION_KEY_SPECIALS
    )


def test_generated_keys_differ() -> None:
    assert len({generate_migration_key() for _ in range(50)}) == 50


@pytest.mark.parametrize("length", [7, 25, 0])
def test_generator_refuses_lengths_the_sml_refuses(length: int) -> None:
    with pytest.raises(InvalidInput, match="8 to 24"):
        generate_migration_key(length)


def test_the_rules_in_swedish_whole_and_joined() -> None:
    """A Swedish form or command says every broken rule in Swedish: each is a catalog message,
    and so is their join (a plain "; ".join would fix the sentence in English)."""
    problems = check_migration_key("ab cd")
    swedish = joined(problems).render("sv")
    assert "måste vara 8 till 24 tecken lång (den har 5)" in swedish
    assert "får inte innehålla blanksteg" in swedish
    assert "behöver minst 2 stora bokstäver (A-Z) (den har 0)" in swedish
    assert "must" not in swedish
    assert "needs" not in swedish
    assert str(joined(problems)) == "; ".join(problems)  # English as before
    assert joined([]) == ""
