"""Doctest setup for the pages in docs/: a running sandbox network is available as ``sandbox``.

The pages show real calls against real servers on 127.0.0.1, so their examples are tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _docs_sandbox() -> Iterator[Any]:
    from peppolnet.sandbox import Sandbox

    with Sandbox.start() as running:
        yield running


@pytest.fixture(autouse=True)
def _sandbox_in_doctests(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    # Only pages that mention the sandbox pay for starting it.
    path = Path(str(getattr(request.node, "path", "")))
    if path.suffix == ".md" and "sandbox" in path.read_text(encoding="utf-8"):
        doctest_namespace["sandbox"] = request.getfixturevalue("_docs_sandbox")
