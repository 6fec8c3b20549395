"""The page's language and its templates: Jinja2 with peppolnet's gettext catalogs.

The language of a request is, in order: ``?lang=``, the ``lang`` cookie (set when someone picks
a language), the browser's ``Accept-Language``, then the app's default. Templates mark text with
``{% trans %}`` or ``_("...")`` (Babel extracts both into the "web" catalog, tools/catalogs.py);
one Jinja2 environment per language, each with that language's gettext installed, so rendering
never shares mutable state between requests. Autoescape is on for every template: names and
business cards come from the network and are hostile until escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

import jinja2
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peppolnet.i18n import (
    LANGUAGES,
    Language,
    country_name,
    format_number,
    parse_language,
    render,
    translations,
)

__all__ = [
    "LANG_COOKIE",
    "LanguageMiddleware",
    "Templates",
    "format_number",
    "format_when",
    "request_language",
    "route_path",
]

LANG_COOKIE: Final = "peppolnet_lang"


def _parse(value: str | None) -> Language | None:
    if not value:
        return None
    try:
        return parse_language(value)
    except ValueError:
        return None


def _accept_language(header: str) -> Language | None:
    """The first of sv/en in an ``Accept-Language`` header, by its q-values."""
    ranked: list[tuple[float, int, Language]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = _parse(tag)
        if lang is not None and quality > 0:
            ranked.append((-quality, index, lang))
    return min(ranked)[2] if ranked else None


def request_language(request: Request, default: Language) -> Language:
    """The language to answer ``request`` in (see the module's docstring for the order)."""
    return (
        _parse(request.query_params.get("lang"))
        or _parse(request.cookies.get(LANG_COOKIE))
        or _accept_language(request.headers.get("accept-language", ""))
        or default
    )


class Templates:
    """The page's Jinja2 templates in every language; :meth:`response` renders one."""

    def __init__(self, globals_: Mapping[str, Any] | None = None) -> None:
        loader = jinja2.PackageLoader("peppolnet.web", "templates")
        self.environments: dict[Language, jinja2.Environment] = {}
        for lang in LANGUAGES:
            env = jinja2.Environment(
                loader=loader,
                autoescape=True,
                extensions=["jinja2.ext.i18n"],
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
            env.globals.update(globals_ or {})
            env.globals["lang"] = lang
            env.globals["languages"] = LANGUAGES
            env.filters["t"] = _translator(lang)
            env.filters["country"] = _country(lang)
            env.filters["number"] = _number(lang)
            env.filters["when"] = format_when
            env.globals["path_for"] = path_for
            env.globals["query_with"] = query_with
            env.globals["csrf_token"] = csrf_token
            self.environments[lang] = env

    def render(self, name: str, lang: Language, context: Mapping[str, Any]) -> str:
        """The template ``name`` rendered in ``lang``."""
        return self.environments[lang].get_template(name).render(context)

    def response(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """An HTML response of ``name`` in the request's language."""
        lang: Language = request.state.lang
        full = {"request": request, **context}
        return HTMLResponse(
            self.render(name, lang, full), status_code=status_code, headers=dict(headers or {})
        )


def _translator(lang: Language) -> Any:
    def translate(value: object) -> str:
        """A :class:`~peppolnet.i18n.Message` (or any value) in the page's language."""
        return render(value, lang)

    return translate


def format_when(moment: datetime | None) -> str:
    """An instant for people: ``2028-12-03 13:03 UTC`` (ISO 8601's date, as Swedish writes it
    and English readers take without doubt, with the time zone said, since the page's
    readers are not all in UTC); ``-`` for none."""
    if moment is None:
        return "-"
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _number(lang: Language) -> Any:
    def number(value: float) -> str:
        return format_number(value, lang)

    return number


def _country(lang: Language) -> Any:
    def name(code: str) -> str:
        return country_name(code, lang)

    return name


def route_path(scope: Scope) -> str:
    """The path within this app (without the prefix it is mounted under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class LanguageMiddleware:
    """Puts the request's language in ``request.state.lang``; a ``?lang=`` choice is kept in
    a cookie, so the next page (and the next visit) speaks it too."""

    def __init__(self, app: ASGIApp, default: Language, secure_cookies: bool = False) -> None:
        self.app = app
        self.default = default
        self.secure = "; Secure" if secure_cookies else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        lang = request_language(request, self.default)
        scope.setdefault("state", {})["lang"] = lang
        chosen = _parse(request.query_params.get("lang"))
        if chosen is None or chosen == _parse(request.cookies.get(LANG_COOKIE)):
            await self.app(scope, receive, send)
            return
        cookie = f"{LANG_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax{self.secure}"

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_cookie)


@jinja2.pass_context
def path_for(context: Any, name: str, /, **params: Any) -> str:
    """The path of the route ``name`` with the prefix the app is mounted under - relative,
    so the page works behind any proxy, scheme or host name."""
    request: Request = context["request"]
    root: str = request.scope.get("root_path", "")
    return root + str(request.app.url_path_for(name, **params))


@jinja2.pass_context
def query_with(context: Any, **params: str) -> str:
    """This page's query string with ``params`` replaced (for links that keep the search)."""
    request: Request = context["request"]
    merged = {**request.query_params, **params}
    return urlencode(merged)


@jinja2.pass_context
def csrf_token(context: Any) -> str:
    """The token every form of the page carries: ``<input type="hidden" name="csrf_token"
    value="{{ csrf_token() }}">`` (see :mod:`peppolnet.web.security`)."""
    request: Request = context["request"]
    return str(getattr(request.state, "csrf_token", ""))
