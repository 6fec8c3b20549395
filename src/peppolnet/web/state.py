"""The services one support-page app holds: lookups, directories, channels, templates.

One :class:`WebState` per app, made when the app starts (its lifespan) and closed when it stops,
so the :class:`~peppolnet.lookup.AsyncLookup` - its DNS cache and connection pool - is shared by
every request and closed on the event loop that opened it. Routes reach it as
``request.app.state.peppolnet`` through :func:`web_state`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from peppolnet.i18n import Language
from peppolnet.web.settings import WebSettings

if TYPE_CHECKING:
    from peppolnet.directory import AsyncDirectoryClient
    from peppolnet.lookup import AsyncLookup
    from peppolnet.network import Network
    from peppolnet.recipients.channels import Channel
    from peppolnet.recipients.directory import RecipientDirectory
    from peppolnet.web.auth import Auth
    from peppolnet.web.i18n import Templates
    from peppolnet.web.ratelimit import RateLimiter

__all__ = ["WebState", "channel_table", "web_state"]


@dataclasses.dataclass
class WebState:
    """What the routes share. ``lookup`` and ``peppol_directory`` exist while the app runs."""

    network: Network
    settings: WebSettings
    language: Language
    templates: Templates
    limiter: RateLimiter
    auth: Auth | None = None
    channels: Mapping[str, Channel] = dataclasses.field(default_factory=dict)
    directory: RecipientDirectory | None = None
    lookup: AsyncLookup | None = None
    peppol_directory: AsyncDirectoryClient | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Room for feature modules (cases, registers) to keep their own per-app objects."""

    def require_lookup(self) -> AsyncLookup:
        """The app's lookup; outside the lifespan (an app never started) a clear error."""
        if self.lookup is None:
            raise RuntimeError("the support page's lookup runs only while the app is started")
        return self.lookup


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.peppolnet
    return state


def channel_table(channels: Mapping[str, Channel] | Sequence[Channel] | None) -> dict[str, Channel]:
    """Channels by name, whether given as a mapping or a list of channels."""
    if channels is None:
        return {}
    if isinstance(channels, Mapping):
        return dict(channels)
    return {channel.name: channel for channel in channels}
