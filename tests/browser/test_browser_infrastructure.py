"""The browser fixtures themselves: uvicorn starts and stops on loopback, Chromium drives it."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from _browser_support import Mailbox
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route


async def _hello(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>t</title><p id=greeting>hej</p>")


def test_served_page_is_driven_by_chromium(serve: Callable[[Any], str], page: Page) -> None:
    base = serve(Starlette(routes=[Route("/", _hello)]))
    assert base.startswith("http://127.0.0.1:")
    page.goto(base + "/")
    assert page.locator("#greeting").inner_text() == "hej"


def test_mailbox_waits_for_a_message(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@x.example", "b@y.example", "Hej"
    mail.set_content("text")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.send_message(mail)
    [received] = box.wait_for(1)
    assert received["Subject"] == "Hej"
