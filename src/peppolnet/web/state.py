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
    from peppolnet.web.cache import ResultCache
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
    results: ResultCache
    auth: Auth | None = None
    channels: Mapping[str, Channel] = dataclasses.field(default_factory=dict)
    directory: RecipientDirectory | None = None
    lookup: AsyncLookup | None = None
    peppol_directory: AsyncDirectoryClient | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Room for feature modules (cases, registers) to keep their own per-app objects."""

    def open(self) -> None:
        """Make the lookup and the Directory client (the lifespan does, on the server's loop).

        An app mounted inside another Starlette app gets no lifespan of its own (Starlette
        runs only the outer one), so the first request opens them instead.
        """
        from peppolnet.directory import AsyncDirectoryClient
        from peppolnet.lookup import AsyncLookup

        if self.lookup is None:
            self.lookup = AsyncLookup(
                self.network,
                list_document_types=True,
                clock=self.settings.clock,
                deadline=self.settings.lookup_deadline,
                dnssec=self.settings.dnssec,
            )
        if self.peppol_directory is None and self.network.directory_url:
            self.peppol_directory = AsyncDirectoryClient.for_network(self.network)

    async def aclose(self) -> None:
        """Close the lookup and the Directory client (an operator's own lifespan may call it)."""
        lookup, self.lookup = self.lookup, None
        directory, self.peppol_directory = self.peppol_directory, None
        if lookup is not None:
            await lookup.aclose()
        if directory is not None:
            await directory.aclose()

    def require_lookup(self) -> AsyncLookup:
        """The app's lookup, opened on first use when no lifespan opened it."""
        if self.lookup is None:
            self.open()
        assert self.lookup is not None
        return self.lookup

    def directory_client(self) -> AsyncDirectoryClient | None:
        """The network's Peppol Directory client (None: the network has no Directory)."""
        if self.peppol_directory is None:
            self.open()
        return self.peppol_directory


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
