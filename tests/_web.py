"""Helpers shared by the support page's tests: an app on the session's sandbox, and the text
of the parts of a page that the tests read (no HTML parser beyond the standard library's)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

with warnings.catch_warnings():  # Starlette 1.x suggests another HTTP client for TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from peppolnet.sandbox import Sandbox
from peppolnet.web import WebSettings, create_app

#: Limits no functional test reaches (the rate-limit tests make their own app).
GENEROUS = WebSettings(lookups_per_minute=6000, lookup_burst=1000, secret_key="test-secret")


@contextmanager
def client(sandbox: Sandbox, **kwargs: Any) -> Iterator[TestClient]:
    """A TestClient of an app on ``sandbox`` (lifespan run: the lookup exists)."""
    kwargs.setdefault("settings", GENEROUS)
    app = create_app(network=sandbox.network, **kwargs)
    with TestClient(app) as test_client:
        yield test_client


class _Texts(HTMLParser):
    """The text inside every element with a given class."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls = cls
        self.depth = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif self.cls in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.found[-1] += data


def texts(html: str, cls: str) -> list[str]:
    """The text (entities decoded, whitespace collapsed) of each element of class ``cls``."""
    parser = _Texts(cls)
    parser.feed(html)
    return [" ".join(text.split()) for text in parser.found]


def verdicts(html: str) -> list[str]:
    """The ``data-verdict`` of every card on the page, in order."""
    return re.findall(r'data-verdict="([a-z-]+)"', html)


def csrf(html: str) -> str:
    """The CSRF token a page's forms carry (the page must have one)."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)
