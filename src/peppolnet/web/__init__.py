"""The support page: ``peppolnet serve``, an ASGI application an operator mounts.

Support staff type what they were given - an organisation number, a VAT number, a participant id
or a company name - and get a verdict card per candidate in Swedish or English, the details
below it, and a JSON API with the same data. See docs/web.md.

>>> from peppolnet.web import create_app
>>> app = create_app(network=sandbox.network)  # doctest: +SKIP

Its libraries (Starlette, Jinja2, uvicorn) are imported only when the page is used.
"""

from __future__ import annotations

from peppolnet.i18n import Message, _
from peppolnet.web.app import create_app
from peppolnet.web.auth import Auth, BasicAuth, TrustedHeaderAuth
from peppolnet.web.settings import WebSettings

__all__ = ["Auth", "BasicAuth", "TrustedHeaderAuth", "WebSettings", "banner", "create_app"]


def banner(url: str, network: str) -> Message:
    """What ``peppolnet serve`` prints when the page is up."""
    return _(
        "The peppolnet support page is at {url} (network: {network})", url=url, network=network
    )
