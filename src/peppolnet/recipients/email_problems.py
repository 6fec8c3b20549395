"""What is wrong with an e-mail address, in the catalog's words instead of email-validator's.

Why: email-validator explains a bad address in English only ("There must be something after
the @-sign."), and that sentence ended up inside Swedish ones on the request form. It has no
error codes, so its known sentences (email-validator 2.x, ``syntax.py``) are recognised by
pattern and said again as catalog messages; one it does not know yet is kept as it is - a
technical detail, still better than nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from peppolnet.i18n import Message, _

__all__ = ["email_problem"]

_Say = Callable[[re.Match[str]], Message]

_SIGN: Final = {"period": _("a full stop"), "hyphen": _("a hyphen")}


def _sign(match: re.Match[str]) -> Message:
    return _SIGN.get(match.group("sign"), _("a character"))


#: email-validator's sentence (a regular expression over its text) -> ours.
_KNOWN: Final[tuple[tuple[re.Pattern[str], _Say], ...]] = tuple(
    (re.compile(pattern + r"\Z", re.DOTALL), say)
    for pattern, say in (
        (r"An email address must have an @-sign\.", lambda m: _("it has no @ sign")),
        (
            r"There must be something before the @-sign\.",
            lambda m: _("there is nothing before the @ sign"),
        ),
        (
            r"There must be something after the @-sign\.",
            lambda m: _("there is nothing after the @ sign"),
        ),
        (
            r"There can't be anything after the email address\.",
            lambda m: _("there is more text after the address"),
        ),
        (
            r"The part after the @-sign is not valid\. It should have a period\.",
            lambda m: _("the domain after the @ sign has no full stop (like example.se)"),
        ),
        (
            r"The part after the @-sign is not valid\. It is not within a valid top-level domain\.",
            lambda m: _("the domain after the @ sign does not end in a valid top-level domain"),
        ),
        (
            r"The part after the @-sign is a special-use or reserved name .*",
            lambda m: _("the domain after the @ sign is reserved and cannot receive e-mail"),
        ),
        (
            r"An email address cannot have two periods in a row\.",
            lambda m: _("it has two full stops in a row"),
        ),
        (
            r"An email address cannot have a period and a hyphen next to each other\.",
            lambda m: _("it has a full stop and a hyphen next to each other"),
        ),
        (
            r"An email address cannot start with a (?P<sign>\w+)\.",
            lambda m: _("it cannot start with {sign}", sign=_sign(m)),
        ),
        (
            r"An email address cannot end with a (?P<sign>\w+)\.",
            lambda m: _("it cannot end with {sign}", sign=_sign(m)),
        ),
        (
            r"An email address cannot have a (?P<sign>\w+) immediately before the @-sign\.",
            lambda m: _("it cannot have {sign} just before the @ sign", sign=_sign(m)),
        ),
        (
            r"An email address cannot have a (?P<sign>\w+) immediately after the @-sign\.",
            lambda m: _("it cannot have {sign} just after the @ sign", sign=_sign(m)),
        ),
        (
            r"The email address contains invalid characters before the @-sign"
            r"(?:: (?P<chars>.+))?\.",
            lambda m: _chars(_("it has characters not allowed before the @ sign"), m),
        ),
        (
            r"The part after the @-sign contains invalid characters(?:: (?P<chars>.+))?\.",
            lambda m: _chars(_("it has characters not allowed after the @ sign"), m),
        ),
        (
            r"The email address contains unsafe characters: (?P<chars>.+)\.",
            lambda m: _chars(_("it has characters that are not safe in an address"), m),
        ),
        (
            r"The email address is too long.*",
            lambda m: _("it is too long for an e-mail address"),
        ),
        (
            r"The email address has the .* character instead of a regular at-sign\.",
            lambda m: _("it has a look-alike of the @ sign instead of a real @"),
        ),
        (
            r"The domain name (?P<domain>\S+) does not (?:exist|accept email|send email)\.",
            lambda m: _("the domain {domain} cannot receive e-mail", domain=m.group("domain")),
        ),
    )
)


def _chars(sentence: Message, match: re.Match[str]) -> Message:
    chars = match.group("chars")
    if not chars:
        return sentence
    return _("{sentence}: {chars}", sentence=sentence, chars=chars)


def email_problem(detail: object) -> Message | str:
    """email-validator's explanation ``detail`` (its exception, or the text) as a catalog
    message; the text as it is when the sentence is not one of the known ones."""
    text = str(detail).strip()
    for pattern, say in _KNOWN:
        match = pattern.match(text)
        if match is not None:
            return say(match)
    return text
