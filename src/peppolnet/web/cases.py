"""The hand-off: a prefilled add/update-recipient form and the case page (routes)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
