"""What makes the page safe to run inside an operator: headers, CSRF, body limits, the audit log.

* **Security headers** on every response: a Content Security Policy without inline script
  (the page's CSS and its one small script are served by the app itself), ``frame-ancestors``
  from :attr:`WebSettings.frame_ancestors` so an operator can embed the page in its own tools,
  ``nosniff`` and a strict referrer policy (permalinks carry organisation numbers).
* **CSRF**: every unsafe request (POST, PUT, PATCH, DELETE) carries a token that only a page
  of this app can know - a signed double-submit: a random value in a ``SameSite=Strict`` cookie
  and its HMAC under the app's secret in the form (``csrf_token``) or the ``X-CSRF-Token``
  header. A forged form from another site has neither; a cookie planted by a sibling domain
  still lacks the signature. A request the browser marks cross-site is refused outright. A
  JSON body to the JSON API (``/api/...``) needs no token: a browser sends ``application/json``
  cross-site only after a CORS preflight, which this app never grants. The exemption is
  narrow on purpose: the media type must be exactly ``application/json`` (a form can send
  ``text/plain`` whose body looks like JSON, and ``text/plain; application/json`` is still
  text), and only API routes have it, so the page's own forms always need their token.
* **Body limit**: a request body larger than :attr:`WebSettings.max_body_bytes` is refused
  before it is read into memory.
* **Audit log** (logger ``peppolnet.web.audit``): one INFO record per request sent to an
  operator, with the case id, kind, channel and operator's Seat ID - no names, numbers or
  e-mail addresses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peppolnet._logging import logger
from peppolnet.web.settings import WebSettings

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CsrfMiddleware",
    "SecurityHeadersMiddleware",
    "audit",
    "content_security_policy",
]

CSRF_COOKIE: Final = "peppolnet_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_audit = logger("peppolnet.web.audit")


def audit(event: str, **fields: str | int | None) -> None:
    """Record ``event`` (e.g. ``"request-sent"``) at INFO on ``peppolnet.web.audit``.

    Callers pass identifiers that name no person: case ids, request kinds, channel names,
    Seat IDs. Never a company name, organisation number or e-mail address.
    """
    details = " ".join(f"{key}={value}" for key, value in sorted(fields.items()))
    _audit.info("%s %s", event, details)


def content_security_policy(settings: WebSettings) -> str:
    """The page's CSP: only its own styles, scripts and form targets; no inline script."""
    return (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {settings.frame_ancestors}"
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response the app sends."""

    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.headers: Mapping[str, str] = {
            "content-security-policy": content_security_policy(settings),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cross-origin-opener-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _sign(secret: str, nonce: str) -> str:
    digest = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class CsrfMiddleware:
    """Refuses unsafe requests without a valid token (403), and limits request bodies (413).

    Safe requests get a token in ``request.state.csrf_token`` (and the cookie, when missing),
    so every page can put it in its forms.
    """

    def __init__(self, app: ASGIApp, settings: WebSettings, refuse: ASGIApp) -> None:
        self.app = app
        self.settings = settings
        self.refuse = refuse  # renders the refusal page (status in scope["peppolnet.refused"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        nonce = _cookie(headers, CSRF_COOKIE)
        fresh = not nonce or len(nonce) > 64
        if fresh:
            nonce = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_token"] = _sign(self.settings.secret_key, nonce)
        if scope["method"] in _UNSAFE:
            body = await _read_body(receive, self.settings.max_body_bytes)
            if body is None:
                await self._refused(scope, receive, send, 413)
                return
            # a JSON client (a program) of the API has no cookie, and needs none
            api_json = _is_api_json(scope, headers)
            cookieless = fresh and not api_json
            if cookieless or not await _valid(
                scope, headers, body, self.settings.secret_key, nonce, api_json
            ):
                await self._refused(scope, receive, send, 403)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, _with_cookie(send, nonce, self.settings) if fresh else send)

    async def _refused(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        scope["peppolnet.refused"] = status
        await self.refuse(scope, receive, send)


def _cookie(headers: Headers, name: str) -> str:
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is as good as none
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


async def _valid(
    scope: Scope, headers: Headers, body: bytes, secret: str, nonce: str, api_json: bool
) -> bool:
    if headers.get("sec-fetch-site", "same-origin") == "cross-site":
        return False
    content_type = _media_type(headers)
    given = headers.get(CSRF_HEADER, "")
    if not given and api_json:
        return True  # cross-site JSON needs a CORS preflight this app never grants
    if not given and content_type in _FORMS:
        given = await _form_field(scope, body, CSRF_FIELD)
    expected = _sign(secret, nonce)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _media_type(headers: Headers) -> str:
    """The body's media type without parameters, lower case (``""`` without a Content-Type)."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_api_json(scope: Scope, headers: Headers) -> bool:
    """A JSON body (exactly ``application/json``, the one type a cross-site form or a no-CORS
    fetch cannot send) to a route of the JSON API: the requests that need no CSRF token."""
    if _media_type(headers) != "application/json":
        return False
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    within = path[len(root) :] if root and path.startswith(root) else path
    return within.startswith("/api/")


_FORMS: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def _form_field(scope: Scope, body: bytes, name: str) -> str:
    """One text field of a form body, parsed as the route will parse it (Starlette's parser;
    an upload's file parts are spooled, not kept in memory)."""
    request = Request(scope, _replay(body, _never))
    try:
        async with request.form() as form:
            value = form.get(name)
            return value if isinstance(value, str) else ""
    except Exception:  # a malformed body has no valid token
        return ""


async def _never() -> Message:
    return {"type": "http.disconnect"}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the client sends next
    (a disconnect, which a streaming response listens for)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


def _with_cookie(send: Send, nonce: str, settings: WebSettings) -> Send:
    cookie = f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict"
    if settings.secure_cookies:
        cookie += "; Secure"

    async def send_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("set-cookie", cookie)
        await send(message)

    return send_cookie
