"""``create_app``: the support page as one Starlette application.

The routes come from one module per feature (``search``, ``api``, ``cases``, ``registers``),
each exposing ``routes``; this module only assembles them with the static files, the
middleware (outermost first: security headers, language, authentication, CSRF) and the
lifespan that opens the app's :class:`~peppolnet.lookup.AsyncLookup` and Peppol Directory
client on the server's event loop and closes them when it stops.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from peppolnet.i18n import Language, parse_language
from peppolnet.web import api, cases, registers, search
from peppolnet.web.auth import Auth, AuthMiddleware, as_auth
from peppolnet.web.cache import ResultCache
from peppolnet.web.casework import CaseSettings
from peppolnet.web.i18n import LanguageMiddleware, Templates
from peppolnet.web.ratelimit import RateLimiter
from peppolnet.web.register_jobs import RegisterLimits
from peppolnet.web.security import CSRF_FIELD, CsrfMiddleware, SecurityHeadersMiddleware
from peppolnet.web.settings import WebSettings
from peppolnet.web.state import WebState, channel_table

if TYPE_CHECKING:
    from peppolnet.network import Network
    from peppolnet.recipients.channels import Channel
    from peppolnet.recipients.directory import RecipientDirectory

__all__ = ["create_app"]


def create_app(
    network: Network | None = None,
    channels: Mapping[str, Channel] | Sequence[Channel] | None = None,
    directory: RecipientDirectory | None = None,
    lang: str = "en",
    auth: Auth | Callable[[Request], str | None] | None = None,
    settings: WebSettings | None = None,
    cases: CaseSettings | None = None,
    registers: RegisterLimits | None = None,
) -> Starlette:
    """The support page for ``network`` (production when None), as an ASGI application.

    ``channels`` are where add/update-recipient requests go (by name), ``directory`` is the
    local customer directory searched by name besides the Peppol Directory, ``lang`` the
    language when a request names none (``sv`` or ``en``), ``auth`` who may use the page
    (None: everyone who reaches it - put it behind your own authentication), ``cases`` how
    cases are handed on (operators, the operator this desk works for, confirmation mails,
    follow-up), ``registers`` the limits of register uploads.
    """
    if network is None:
        from peppolnet.network import PRODUCTION

        network = PRODUCTION
    settings = settings or WebSettings()
    language: Language = parse_language(lang)
    templates = Templates(
        {"settings": settings, "network_name": network.name, "csrf_field": CSRF_FIELD}
    )
    state = WebState(
        network=network,
        settings=settings,
        language=language,
        templates=templates,
        limiter=RateLimiter(settings.lookups_per_minute, settings.lookup_burst, settings.clock),
        results=ResultCache(settings.result_ttl, settings.clock, settings.result_cache_bytes),
        auth=as_auth(auth),
        channels=channel_table(channels),
        directory=directory,
    )
    state.extra["case_settings"] = cases or CaseSettings()
    state.extra["register_limits"] = registers or RegisterLimits()
    app = Starlette(
        routes=_routes(),
        middleware=_middleware(state),
        lifespan=_lifespan(state),
        exception_handlers={400: search.not_found, 404: search.not_found, 405: search.not_found},
    )
    app.state.peppolnet = state
    return app


def _routes() -> list[BaseRoute]:
    static = StaticFiles(packages=[("peppolnet.web", "static")])
    return [
        *search.routes,
        *api.routes,
        *cases.routes,
        *registers.routes,
        Mount("/static", app=static, name="static"),
    ]


def _middleware(state: WebState) -> list[Middleware]:
    settings = state.settings

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        response = search.refusal(Request(scope, receive), state)
        await response(scope, receive, send)

    stack = [
        Middleware(SecurityHeadersMiddleware, settings=settings),
        Middleware(
            LanguageMiddleware, default=state.language, secure_cookies=settings.secure_cookies
        ),
    ]
    if state.auth is not None:
        stack.append(Middleware(AuthMiddleware, auth=state.auth, refuse=refuse))
    stack.append(Middleware(CsrfMiddleware, settings=settings, refuse=refuse))
    return stack


def _lifespan(
    state: WebState,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.open()
        try:
            async with contextlib.AsyncExitStack() as features:
                await features.enter_async_context(cases.running(state))
                await features.enter_async_context(registers.running(state))
                yield
        finally:
            await state.aclose()

    return lifespan
