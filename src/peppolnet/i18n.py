"""Swedish and English for everything a person reads: messages, languages and country names.

The people peppolnet started from work at Swedish support desks, so every sentence a person
reads - a verdict's checks, the CLI's human output, the support page, request e-mails - exists
in Swedish and English. Machine output (``--json``, ``to_json()``) stays language-neutral.

Messages are GNU gettext catalogs, managed with Babel (``tools/catalogs.py``: extract, update,
compile), because translators and their tools know the format and Babel's extractor finds every
message in the source. The English sentence is the message id, so code reads naturally and an
untranslated message still says something sensible.

A sentence is made with :func:`_` and rendered later, in whichever language the reader wants::

    >>> from peppolnet.i18n import _
    >>> message = _("the SMP at {host} did not answer", host="smp.example")
    >>> str(message)
    'the SMP at smp.example did not answer'
    >>> message.render("sv")
    'SMP:n på smp.example svarade inte'

A :class:`Message` is a ``str`` (its English rendering), so code that only knows strings keeps
working, while code that knows the reader's language calls :meth:`Message.render`. Parameters
may themselves be messages; they are rendered in the same language.

Country names on input ("Sverige", "Suomi", "Norge", "Sweden") come from Babel's copy of the
Unicode CLDR, so every language's own name for a country is known without a hand-typed table.
"""

from __future__ import annotations

import gettext as _gettext
import json
import os
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, TypeAlias, cast

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "Message",
    "_",
    "country_code",
    "country_name",
    "decimal",
    "format_number",
    "gettext",
    "joined",
    "language_from_environment",
    "message_of",
    "parse_language",
    "percent",
    "render",
    "restored",
    "stored",
    "translations",
]

Language: TypeAlias = Literal["sv", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("sv", "en")
DEFAULT_LANGUAGE: Final[Language] = "en"

# The catalogs are split by area of the source tree (tools/catalogs.py names them) so that
# work on one area does not touch another's file; at run time they form one catalog.
DOMAINS: Final[tuple[str, ...]] = ("core", "cli", "web", "requests", "analytics")


class Message(str):
    """A sentence with its parameters, English when used as a ``str``, any language on request.

    A subclass of ``str`` because messages travel through code written for strings (exception
    arguments, dataclass fields, f-strings, logging); only the code that shows text to a person
    needs to know it can ask for another language.
    """

    template: str
    # The parameters as (name, value) pairs, not a dict: a tuple of plain values is untracked
    # by the cyclic collector at its first pass, and then so is this object's own __dict__ at
    # the next full collection - a bulk run keeps hundreds of thousands of messages in its
    # result cache, and every full collection scanned a dict per message beside the message
    # (docs/performance.md: "A long run in a program of your own").
    _pairs: tuple[tuple[str, object], ...]

    def __new__(cls, template: str, /, **params: object) -> Message:
        return cls._made(template, tuple(params.items()), params)

    @classmethod
    def _made(
        cls, template: str, pairs: tuple[tuple[str, object], ...], params: Mapping[str, object]
    ) -> Message:
        english = _format(template, template, params, "en")
        self = super().__new__(cls, english)
        self.template = template
        self._pairs = pairs
        return self

    @property
    def params(self) -> Mapping[str, object]:
        """The parameters the sentence was made with, by name."""
        return dict(self._pairs)

    def render(self, language: str | None = None) -> str:
        """The sentence in ``language`` (``"sv"`` or ``"en"``; None means English)."""
        lang = parse_language(language) if language else DEFAULT_LANGUAGE
        if lang == "en":
            return str.__str__(self)
        translated = translations(lang).gettext(self.template)
        return _format(translated, self.template, self.params, lang)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling (multiprocessing, caches) keeps the template and parameters, not just the
        # English text - and that text as made: formatting every sentence again when a bulk
        # worker's answers were unpickled was half of the parent's time unpickling them
        # (py-spy, c=256, two workers; 91 -> 57 us per signed outcome, same run). A sentence
        # without parameters is the one _() keeps.
        if not self._pairs:
            return (_, (self.template,))
        return (_unpickled, (str.__str__(self), self.template, self._pairs))


def joined(parts: Sequence[str]) -> str:
    """``parts`` as one sentence separated by "; ", each part still a message, so the whole
    renders in any language (``"; ".join`` would fix it in English - even a list of one: a
    join returns a plain ``str``)."""
    if not parts:
        return ""
    whole = parts[0]
    for part in parts[1:]:
        whole = _("{first}; {then}", first=whole, then=part)
    return whole


def _unpickled(english: str, template: str, pairs: tuple[tuple[str, object], ...]) -> Message:
    message = str.__new__(Message, english)
    message.template = template
    message._pairs = pairs
    return message


def _(template: str, /, **params: object) -> Message:
    """Mark ``template`` (a string literal: Babel extracts it) as a sentence a person reads.

    Placeholders are ``{name}``, filled from keyword arguments when the message is rendered.
    """
    if params:
        pairs = tuple(params.items())
        for _name, value in pairs:
            if type(value) is not str:  # a number, an error, a message: made afresh
                return Message._made(template, pairs, params)
        # Plain text parameters: the same sentence is the same value, so it is made once while
        # it is remembered. A lookup makes a dozen sentences, and in a bulk run nearly all of
        # them repeat (the SMP's URL, its signer, the access point's owner, the process): made
        # anew, each cost its formatting and one more object for every answer a result cache
        # keeps - and for the collector to walk. Only exact ``str`` values: ``1 == True`` would
        # otherwise share one sentence between "1" and "True". Bounded (1,024 sentences, cleared
        # when full): sentences that name one participant come and go.
        key = (template, pairs)
        found = _SAME.get(key)
        if found is None:
            found = Message._made(template, pairs, params)
            if len(_SAME) >= _SAME_MAX:
                _SAME.clear()  # bounded; what repeats is back after a lookup or two
            _SAME[key] = found
        return found
    # A sentence without parameters is the same value every time: made once (a lookup makes
    # several per check; templates are literals in the code, so they are few)
    found = _CONSTANT.get(template)
    if found is None:
        found = Message(template)
        if len(_CONSTANT) < _CONSTANT_MAX:
            _CONSTANT[template] = found
    return found


_CONSTANT: dict[str, Message] = {}
_CONSTANT_MAX: Final = 4096
_SAME: dict[tuple[str, tuple[tuple[str, object], ...]], Message] = {}
_SAME_MAX: Final = 1024


def render(text: object, language: str | None = None) -> str:
    """``text`` in ``language`` when it is a :class:`Message` (or an exception whose
    ``message`` is one, as every :class:`peppolnet.errors.PeppolnetError` made with :func:`_`
    has), else as it is (``str(text)``)."""
    if isinstance(text, BaseException):
        text = message_of(text)
    if isinstance(text, Message):
        return text.render(language)
    return str(text)


def message_of(error: BaseException) -> str:
    """``error``'s sentence: a :class:`Message` when it was made with :func:`_` - as the
    ``message`` of a :class:`peppolnet.errors.PeppolnetError` or the one argument of any other
    exception (an httpx error, a ``ValueError`` raised inside the library) - else ``str(error)``.

    Why: ``str(error)`` is a plain ``str``, so an error wrapped into another one's sentence as
    ``str(exc)`` is English in every language; this keeps the sentence renderable.
    """
    message = getattr(error, "message", None)
    if isinstance(message, Message):
        return message
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return message if isinstance(message, str) and message else str(error)


#: The key that marks a stored sentence (:func:`stored`); plain text never starts with it.
_STORED_KEY: Final = "peppolnet-message"
_STORED_START: Final = '{"' + _STORED_KEY + '"'


def stored(text: str) -> str:
    """``text`` as it is kept in a file or database so that it can be shown later in any
    language: a :class:`Message` as JSON (its template and parameters, nested sentences too),
    plain text as it is. :func:`restored` reads it back.

    Why: a request's reasons and history are written once and read later - by a Swedish desk,
    an English script - so storing the English made every later reader see English.
    Parameters that are not text, numbers or sentences are kept as their text (docs/i18n.md
    shows it).
    """
    if not isinstance(text, Message):
        return text
    return json.dumps(_stored_form(text), ensure_ascii=False, separators=(",", ":"))


def _stored_form(message: Message) -> dict[str, object]:
    params = {name: _stored_value(value) for name, value in message._pairs}
    return {_STORED_KEY: 1, "template": message.template, "params": params}


def _stored_value(value: object) -> object:
    if isinstance(value, Message):
        return _stored_form(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def restored(text: str | None) -> str | None:
    """What :func:`stored` kept: the :class:`Message` again, or the plain text as it is (text
    stored before sentences were kept, or text that only looks like one, stays text)."""
    if text is None or not text.startswith(_STORED_START):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    message = _restored_form(data)
    return text if message is None else message


def _restored_form(data: object) -> Message | None:
    """The sentence of a stored form; None when ``data`` (or a sentence inside it) is not one."""
    if not isinstance(data, dict):
        return None
    template, params = data.get("template"), data.get("params")
    if not isinstance(template, str) or not isinstance(params, dict):
        return None
    values: dict[str, object] = {}
    for name, value in params.items():
        values[name] = _restored_form(value) if isinstance(value, dict) else value
        if values[name] is None and value is not None:
            return None
    return Message._made(template, tuple(values.items()), values)


def _format(text: str, english: str, params: Mapping[str, object], lang: Language) -> str:
    """``text`` (the template in ``lang``) filled in; never raises.

    A catalog that names a placeholder the code does not give, or a template with a stray
    brace, must not turn a verdict into a traceback: the English template is used instead, with
    any missing placeholder left visible. tests/test_i18n_catalogs.py keeps both from happening.
    """
    # plain text (most parameters) is itself in every language: no render() call for it
    shown = params
    for value in params.values():
        if type(value) is not str:
            shown = {k: v if type(v) is str else _shown(v, lang) for k, v in params.items()}
            break
    try:
        return text.format_map(shown)
    except (KeyError, IndexError, ValueError, AttributeError):
        try:
            return english.format_map(_Missing(shown))
        except (IndexError, ValueError, AttributeError):
            return english


def _shown(value: object, lang: Language) -> object:
    """A parameter as the sentence shows it in ``lang``: a message in that language, a
    fraction with the language's decimal mark (``2,5 s`` in Swedish), anything else as it is."""
    if type(value) is float:
        return decimal(value, lang, digits=None)
    return render(value, lang)


def _swedish(language: str | None) -> bool:
    return language is not None and parse_language(language) == "sv"


def _marks(english: str, language: str | None) -> str:
    """A number written as English writes it (``50,000.5``) with ``language``'s marks: in
    Swedish a no-break space between thousands and a decimal comma (``50 000,5``). The one
    place the marks are decided, for :func:`decimal`, :func:`percent` and
    :func:`format_number`."""
    if _swedish(language):
        return english.replace(",", "\u00a0").replace(".", ",")
    return english


def decimal(value: float, language: str | None = None, *, digits: int | None = 1) -> str:
    """``value`` with ``digits`` decimals (None: as Python writes it) and the language's decimal
    mark: ``47.6`` in English, ``47,6`` in Swedish (the decimal comma, as Swedish writes it).

    >>> decimal(47.56, "sv"), decimal(47.56, "en"), decimal(2.5, "sv", digits=None)
    ('47,6', '47.6', '2,5')
    """
    return _marks(repr(value) if digits is None else f"{value:.{digits}f}", language)


def format_number(value: float, language: str | None = None) -> str:
    """``value`` as the language writes numbers: ``50 000`` and ``0,5`` in Swedish (a no-break
    space between thousands, a decimal comma), ``50,000`` and ``0.5`` in English; at most
    two decimals, without trailing zeros."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return _marks(text, language)


def percent(part: float, language: str | None = None, *, digits: int = 1) -> str:
    """``part`` (0..1) as a percentage: ``47.6%`` in English, ``47,6 %`` in Swedish (a space,
    no-break, before the sign, as Swedish writes it)."""
    sign = "\u00a0%" if _swedish(language) else "%"
    return decimal(100 * part, language, digits=digits) + sign


class _Missing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@cache
def translations(language: Language) -> _gettext.NullTranslations:
    """The whole catalog for ``language``: every area's compiled ``.mo`` file, chained.

    English needs no catalog to be readable (the ids are English), but has one so that a test
    can prove both languages hold every message.
    """
    chain: _gettext.NullTranslations = _gettext.NullTranslations()
    folder = resources.files("peppolnet").joinpath("locale", language, "LC_MESSAGES")
    for domain in reversed(DOMAINS):
        source = folder.joinpath(f"{domain}.mo")
        if not source.is_file():
            continue
        with source.open("rb") as handle:
            catalog = _gettext.GNUTranslations(handle)
        catalog.add_fallback(chain)
        chain = catalog
    return chain


def gettext(language: str | None) -> Callable[[str], str]:
    """A plain ``gettext`` for ``language``: for templates (Jinja2) and other string-only code."""
    lang = parse_language(language) if language else DEFAULT_LANGUAGE
    return translations(lang).gettext


_LANGUAGE_NAMES: Final[Mapping[str, Language]] = {
    "sv": "sv",
    "se": "sv",
    "swedish": "sv",
    "svenska": "sv",
    "en": "en",
    "english": "en",
    "engelska": "en",
}


def parse_language(value: str) -> Language:
    """``"sv"``/``"en"`` from what a person or a locale gives: ``sv_SE.UTF-8``, ``en-GB``,
    ``Svenska``. Raises :class:`ValueError` naming the value for anything else."""
    text = value.strip().lower()
    base = text.split(".", 1)[0].split("@", 1)[0].replace("-", "_").split("_", 1)[0]
    for candidate in (text, base):
        if candidate in _LANGUAGE_NAMES:
            return _LANGUAGE_NAMES[candidate]
    raise ValueError(
        _("unknown language {value}: use sv (svenska) or en (English)", value=repr(value))
    )


def language_from_environment(environ: Mapping[str, str] | None = None) -> Language:
    """The reader's language from the POSIX locale variables, as gettext orders them
    (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``); English when none names sv or en.
    ``PEPPOLNET_LANG`` comes first, so a user can choose without changing their locale."""
    env = os.environ if environ is None else environ
    for name in ("PEPPOLNET_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        # LANGUAGE is a colon-separated preference list
        for part in value.split(":"):
            if not part or part in ("C", "POSIX") or part.startswith("C."):
                continue
            try:
                return parse_language(part)
            except ValueError:
                continue
    return DEFAULT_LANGUAGE


# The languages whose names for countries are accepted on input: the Nordic and the larger
# Peppol countries' own languages, so "Suomi", "Norge", "Deutschland" and "Belgique" all work.
_INPUT_LOCALES: Final[tuple[str, ...]] = (
    "en", "sv", "fi", "nb", "nn", "da", "is", "de", "fr", "nl", "it", "es", "pt", "pl",
    "et", "lv", "lt", "el", "cs", "sk", "sl", "hr", "hu", "ro", "bg", "ga", "mt", "lb",
    "ja", "zh", "ms", "sq", "mk", "sr", "sr_Latn", "bs", "tr", "ar",
)  # fmt: skip


# CLDR territories that are not countries: unknown region, outlying Oceania, pseudo-locales,
# the EU, the eurozone and the UN.
_NOT_COUNTRIES: Final = frozenset({"ZZ", "QO", "XA", "XB", "EU", "EZ", "UN"})


def _fold(text: str) -> str:
    """Case, accents and punctuation removed: "Österreich" and "osterreich" meet."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in kept).split())


@cache
def _country_names() -> Mapping[str, str]:
    from babel import Locale  # Babel's CLDR data loads only when a name is looked up

    names: dict[str, str] = {}
    for locale_name in _INPUT_LOCALES:
        territories = cast(Mapping[str, str], Locale.parse(locale_name).territories)
        for code, name in territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                names.setdefault(_fold(name), code)
    return names


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code for a country as a person writes it - ``"SE"``, ``"se"``,
    ``"Sverige"``, ``"Sweden"``, ``"Suomi"`` - or None when it names no country."""
    value = text.strip()
    if len(value) == 2 and value.isascii() and value.isalpha():
        code = value.upper()
        return code if code in _known_codes() else None
    return _country_names().get(_fold(value))


@cache
def _known_codes() -> frozenset[str]:
    return frozenset(_country_names().values())


def country_name(code: str, language: str | None = None) -> str:
    """The country's name in ``language`` ("Sverige" / "Sweden"); the code itself if unknown."""
    from babel import Locale

    lang = parse_language(language) if language else DEFAULT_LANGUAGE
    upper = code.upper()
    if upper not in _known_codes():
        return upper
    territories = cast(Mapping[str, str], Locale.parse(lang).territories)
    return territories.get(upper, upper)
