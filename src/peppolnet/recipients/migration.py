"""Migration keys: the shared secret that moves a participant from one operator to another.

In a change of operator the *old* SMP calls ``PrepareToMigrate`` with a key, the key travels out
of band (through the participant, i.e. in an update-recipient request) to the *new* SMP, which
calls ``Migrate`` with the same key (Peppol SML specification, SMP-SML interface). The SML rejects
keys outside its rules, so we
check them before a request is sent rather than have the new operator's SML call fail days later.

The rules ([SML-ICD] "updated 06/03/2017"): 8-24 characters, no whitespace, at least two each of
upper-case letters, lower-case letters, digits and special characters from ``@#$%()[]{}*^-!~|+=``
(the reference implementation's pattern also accepts ``_`` as special, so do we when checking;
we never generate it).

>>> check_migration_key("Ab12@#cdEF")
[]
>>> check_migration_key("short")[0]
'must be 8 to 24 characters long (it has 5)'
>>> key = generate_migration_key()
>>> is_valid_migration_key(key)
True
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from peppolnet.i18n import _

__all__ = [
    "MAX_MIGRATION_KEY_LENGTH",
    "MIGRATION_KEY_RE",
    "MIGRATION_KEY_SPECIALS",
    "MIN_MIGRATION_KEY_LENGTH",
    "check_migration_key",
    "generate_migration_key",
    "is_valid_migration_key",
]

MIN_MIGRATION_KEY_LENGTH: Final = 8
MAX_MIGRATION_KEY_LENGTH: Final = 24
#: The special characters the SML specification lists (generation uses exactly these).
MIGRATION_KEY_SPECIALS: Final = "@#$%()[]{}*^-!~|+="
_CHECK_SPECIALS: Final = MIGRATION_KEY_SPECIALS + "_"

#: The reference implementation's pattern (``CSMLDefault.MIGRATION_CODE_PATTERN``).
MIGRATION_KEY_RE: Final = re.compile(
    r"^(?=.{8,24}$)(?=(.*[@#$%()\[\]{}*^_\-!~|+=]){2,})(?=(.*[A-Z]){2})(?=(.*[a-z]){2})"
    r"(?=(.*[0-9]){2})(?=\S+$).*$"
)


def check_migration_key(key: str) -> list[str]:
    """Every rule the key breaks, as sentences (empty when the key is acceptable): catalog
    messages, so a Swedish request form or command says them in Swedish."""
    if not isinstance(key, str) or not key:
        return [_("must not be empty")]
    problems: list[str] = []
    if not MIN_MIGRATION_KEY_LENGTH <= len(key) <= MAX_MIGRATION_KEY_LENGTH:
        problems.append(
            _(
                "must be {low} to {high} characters long (it has {count})",
                low=MIN_MIGRATION_KEY_LENGTH,
                high=MAX_MIGRATION_KEY_LENGTH,
                count=len(key),
            )
        )
    if any(c.isspace() for c in key):
        problems.append(_("must not contain whitespace"))
    counts = {
        _("upper-case letters (A-Z)"): sum("A" <= c <= "Z" for c in key),
        _("lower-case letters (a-z)"): sum("a" <= c <= "z" for c in key),
        _("digits (0-9)"): sum("0" <= c <= "9" for c in key),
        _("special characters from {characters}", characters=MIGRATION_KEY_SPECIALS): sum(
            c in _CHECK_SPECIALS for c in key
        ),
    }
    problems.extend(
        _("needs at least 2 {what} (it has {count})", what=what, count=count)
        for what, count in counts.items()
        if count < 2
    )
    # Belt and braces: the SML uses the pattern, so the pattern has the last word.
    if not problems and MIGRATION_KEY_RE.fullmatch(key) is None:  # pragma: no cover - defensive
        problems.append(_("does not match the SML migration key pattern"))
    return problems


def is_valid_migration_key(key: str) -> bool:
    """Whether the SML would accept ``key`` as a migration key."""
    return not check_migration_key(key)


def generate_migration_key(length: int = 16) -> str:
    """A random key (from :mod:`secrets`) that satisfies every SML rule.

    Two characters of each required class are placed first, the rest drawn from all classes,
    then the whole is shuffled with a cryptographic generator.
    """
    if not MIN_MIGRATION_KEY_LENGTH <= length <= MAX_MIGRATION_KEY_LENGTH:
        from peppolnet.errors import InvalidInput

        raise InvalidInput(
            _(
                "a migration key must be {low} to {high} characters long, not {length}",
                low=MIN_MIGRATION_KEY_LENGTH,
                high=MAX_MIGRATION_KEY_LENGTH,
                length=length,
            )
        )
    upper, lower, digits = "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789"
    classes = (upper, lower, digits, MIGRATION_KEY_SPECIALS)
    chars = [secrets.choice(cls) for cls in classes for _ in range(2)]
    everything = "".join(classes)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    rng = secrets.SystemRandom()
    rng.shuffle(chars)
    return "".join(chars)
