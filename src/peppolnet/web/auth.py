"""Who may use the page: a pluggable hook, with a trusted header and HTTP Basic shipped.

An operator runs the page behind its own single sign-on (a reverse proxy that authenticates
staff and passes the user on in a header) or, for a small desk, with a few passwords. Both are
an :class:`Auth`: ``authenticate(request)`` returns the user's name or None; ``challenge()``
gives the headers of the 401 answer. Any object with those two methods plugs in, and so does a
plain function ``request -> str | None`` (``create_app(auth=...)`` wraps it).

The user's name reaches ``request.state.user``; it keys the rate limit and never enters the logs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol, runtime_checkable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from peppolnet._settingsfile import read_text
from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _
from peppolnet.web.i18n import route_path

__all__ = [
    "Auth",
    "AuthMiddleware",
    "BasicAuth",
    "FunctionAuth",
    "TrustedHeaderAuth",
    "as_auth",
    "read_users_file",
]


@runtime_checkable
class Auth(Protocol):
    """Decides who is asking. ``authenticate`` must not block (it runs on the event loop)."""

    def authenticate(self, request: Request) -> str | None:
        """The user's name, or None when the request is not authenticated."""
        ...

    def challenge(self) -> Mapping[str, str]:
        """Headers of the 401 answer (``WWW-Authenticate`` for Basic)."""
        ...


class FunctionAuth:
    """An :class:`Auth` from a plain function ``request -> user name | None``."""

    def __init__(self, function: Callable[[Request], str | None]) -> None:
        self.function = function

    def authenticate(self, request: Request) -> str | None:
        return self.function(request)

    def challenge(self) -> Mapping[str, str]:
        return {}


def as_auth(value: Auth | Callable[[Request], str | None] | None) -> Auth | None:
    """``create_app(auth=...)``'s value as an :class:`Auth` (or None: no authentication)."""
    if value is None or isinstance(value, Auth):
        return value
    if callable(value):
        return FunctionAuth(value)
    raise TypeError(
        _("auth must be an Auth or a function of the request, not {value}", value=repr(value))
    )


class TrustedHeaderAuth:
    """The user named by a reverse proxy in a header (``X-Forwarded-User`` by default).

    Trusted only from the proxies' addresses (``trusted_proxies``: addresses or networks,
    loopback by default): anyone else could send the header themselves.
    """

    def __init__(
        self,
        header: str = "X-Forwarded-User",
        *,
        trusted_proxies: Iterable[str] = ("127.0.0.1/32", "::1/128"),
    ) -> None:
        self.header = header.lower()
        self.proxies = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)

    def authenticate(self, request: Request) -> str | None:
        peer = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return None
        if not any(address in network for network in self.proxies):
            return None
        user = request.headers.get(self.header, "").strip()
        return user[:200] or None

    def challenge(self) -> Mapping[str, str]:
        return {}


_ITERATIONS: Final = 200_000


class BasicAuth:
    """HTTP Basic with a fixed set of users and PBKDF2-hashed passwords.

    ``users`` maps a name to :meth:`hash_password`'s output, so no password is kept in the
    operator's configuration. Serve the page over HTTPS: Basic sends the password each time.
    """

    def __init__(self, users: Mapping[str, str], realm: str = "peppolnet") -> None:
        self.users = dict(users)
        self.realm = realm.replace('"', "")
        self._verified: dict[tuple[str, str], bool] = {}

    @staticmethod
    def hash_password(password: str, *, salt: str | None = None) -> str:
        """``pbkdf2_sha256$iterations$salt$hash`` for ``password`` (a new salt by default)."""
        salt = salt or secrets.token_hex(16)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _ITERATIONS)
        return f"pbkdf2_sha256${_ITERATIONS}${salt}${digest.hex()}"

    def authenticate(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user if self._check(user, password) else None

    def _check(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        if stored is None:
            return False
        # PBKDF2 is slow on purpose; a browser sends the same pair with every request, so a
        # verified pair is remembered by its digest (never the password itself).
        key = (user, hashlib.sha256(f"{stored}\0{password}".encode()).hexdigest())
        if key not in self._verified:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[key] = _pbkdf2_matches(stored, password)
        return self._verified[key]

    def challenge(self) -> Mapping[str, str]:
        return {"www-authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'}


def read_users_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The users of :class:`BasicAuth` from a file of ``name:hash`` lines (``peppolnet serve
    --hash-password NAME`` writes one; ``#`` comments and blank lines are skipped).

    Why a file of its own and not the settings file: it changes when staff come and go, it is
    readable by the service alone, and it holds only hashes - no password. Raises
    :class:`~peppolnet.errors.InvalidInput` naming the file and line of what is wrong.
    """
    text = read_text(
        path,
        lambda reason: _(
            "cannot read the users file {file}: {reason}", file=str(path), reason=reason
        ),
    )
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _sep, stored = line.partition(":")
        problem = _user_line_problem(name, stored, users)
        if problem is not None:
            raise InvalidInput(
                _("{file}, line {line}: {problem}", file=str(path), line=number, problem=problem)
            )
        users[name] = stored
    if not users:
        raise InvalidInput(_("the users file {file} names no user", file=str(path)))
    return users


def _user_line_problem(name: str, stored: str, users: Mapping[str, str]) -> Message | None:
    """What is wrong with one ``name:hash`` line, or None."""
    if not name or not stored:
        return _("expected NAME:HASH (peppolnet serve --hash-password NAME writes one)")
    if name in users:
        return _("the user {name} is named twice", name=name)
    algorithm, _sep, rest = stored.partition("$")
    iterations, _sep, rest = rest.partition("$")
    salt, _sep, digest = rest.partition("$")
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit() or not salt or not digest:
        return _("the password of {name} is not a pbkdf2_sha256 hash", name=name)
    return None


def _pbkdf2_matches(stored: str, password: str) -> bool:
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return hmac.compare_digest(digest.hex(), expected)


class AuthMiddleware:
    """Asks the hook about every request but static files; 401 (the refusal page) when it
    answers None."""

    def __init__(self, app: ASGIApp, auth: Auth, refuse: ASGIApp) -> None:
        self.app = app
        self.auth = auth
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        user = self.auth.authenticate(Request(scope))
        if user is None:
            scope["peppolnet.refused"] = 401
            scope["peppolnet.challenge"] = dict(self.auth.challenge())
            await self.refuse(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)
