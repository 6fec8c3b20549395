"""Loading a customer register in a real headless Chromium: upload, progress, download.

The sandbox here answers slowly (its servers add latency) and the job looks up one row at a
time, so the check lasts long enough for progress to arrive while it runs - shown by the
page's script counting rows from the event stream before the page turns to its summary, not by
timing. Without JavaScript the page reloads itself until the check is done.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from peppolnet.sandbox import Faults, Sandbox
from peppolnet.sandbox.pytest_plugin import SandboxFactory
from peppolnet.web import create_app
from peppolnet.web.register_jobs import RegisterLimits

REGISTER = Path(__file__).resolve().parents[2] / "fixtures" / "customers.csv"


def register_rows() -> int:
    with REGISTER.open(encoding="utf-8-sig", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


@pytest.fixture
def slow_sandbox(peppol_sandbox_factory: SandboxFactory) -> Sandbox:
    """A sandbox of its own whose HTTP servers answer after 300 ms."""
    return peppol_sandbox_factory(faults=Faults(latency=0.3))


@pytest.fixture
def register_page(slow_sandbox: Sandbox, serve: Callable[[Any], str]) -> str:
    app = create_app(network=slow_sandbox.network, registers=RegisterLimits(concurrency=1))
    return serve(app)


def upload(page: Page, base: str, lang: str, tmp_path: Path) -> None:
    register = tmp_path / "kunder.csv"
    shutil.copy(REGISTER, register)
    page.goto(f"{base}/registers?lang={lang}")
    page.set_input_files("#f-register", str(register))
    page.fill("#f-country", "Sverige")
    page.click("#upload")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_upload_progress_and_download(
    lang: str,
    register_page: str,
    page: Page,
    tmp_path: Path,
    screenshot: Callable[[Page, str], None],
) -> None:
    total = register_rows()
    upload(page, register_page, lang, tmp_path)
    progress = page.locator("#progress")
    expect(progress).to_have_attribute("data-state", "running")
    # the script's count from the event stream, while the check still runs
    page.wait_for_function(
        "() => { const p = document.getElementById('progress');"
        " return p && p.dataset.transport === 'events' && Number(p.dataset.done) > 0; }"
    )
    screenshot(page, f"register-progress-{lang}")
    expect(progress).to_have_attribute("data-state", "done")  # reloaded when the job ended
    expect(page.locator("#progress-done")).to_have_text(str(total))
    heading = {"sv": "Ladda ner det kontrollerade registret", "en": "Download the checked register"}
    expect(page.locator("#downloads h2")).to_have_text(heading[lang])
    screenshot(page, f"register-done-{lang}")

    with page.expect_download() as started:
        page.click("#download-csv")
    saved = tmp_path / "out.csv"
    started.value.save_as(saved)
    assert started.value.suggested_filename == "kunder.checked.csv"
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Swedish Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == total + 1  # one row out per row in, and the header
    # the added columns are named in the page's language (the register's own columns as given)
    added = {"sv": ["Rad", "Peppol-ID", "Resultat"], "en": ["row", "participant_id", "verdict"]}
    assert rows[0][4:7] == added[lang]
    number = rows[0].index(added[lang][0])
    assert sorted(int(r[number]) for r in rows[1:]) == list(range(1, total + 1))
    reasons = {r[-1] for r in rows[1:]}
    # the reasons too ("SMP:n" is how a Swedish sentence names the SMP)
    marker = {"sv": "SMP:n", "en": "the SMP"}[lang]
    assert any(marker in reason for reason in reasons), reasons
    assert any("SMP:n" in reason for reason in reasons) == (lang == "sv"), reasons
    summary = page.locator("#countries")
    expect(summary).to_contain_text("Sverige" if lang == "sv" else "Sweden")

    with page.expect_download() as workbook:
        page.click("#download-xlsx")
    assert workbook.value.suggested_filename == "kunder.checked.xlsx"


def test_progress_without_javascript(browser: Browser, register_page: str, tmp_path: Path) -> None:
    context = browser.new_context(java_script_enabled=False, locale="sv-SE")
    try:
        page = context.new_page()
        upload(page, register_page, "sv", tmp_path)
        # the <noscript> refresh reloads the page until the summary is there
        expect(page.locator("#progress")).to_have_attribute("data-state", "done")
        expect(page.locator("#download-csv")).to_be_visible()
        expect(page.locator("#counts tr[data-outcome]")).not_to_have_count(0)
    finally:
        context.close()


def test_a_register_the_page_cannot_read_is_refused_with_a_sentence(
    register_page: str, page: Page, tmp_path: Path
) -> None:
    notes = tmp_path / "anteckningar.pdf"
    notes.write_bytes(b"%PDF-1.4")
    page.goto(f"{register_page}/registers?lang=sv")
    page.set_input_files("#f-register", str(notes))
    page.click("#upload")
    expect(page.locator("#upload-error")).to_contain_text("anteckningar.pdf")
    expect(page.locator("#upload-error")).to_contain_text(".xlsx")
