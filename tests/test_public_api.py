"""The public surface: every exported name resolves, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import peppolnet
from peppolnet.errors import PeppolnetError


@pytest.mark.parametrize("name", sorted(peppolnet.__all__))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(peppolnet, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = peppolnet.Nope  # type: ignore[attr-defined]


def test_every_exported_error_is_a_peppolnet_error() -> None:
    errors = [getattr(peppolnet, n) for n in peppolnet.__all__ if n.endswith(("Error", "Fault"))]
    assert errors
    for error in errors:
        assert issubclass(error, PeppolnetError), error


def test_import_is_lazy() -> None:
    # `import peppolnet` must not pay for lxml, httpx, dnspython or cryptography.
    code = (
        "import sys, peppolnet; "
        "print(sorted(m for m in ('lxml', 'httpx', 'dns', 'cryptography', 'pydantic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
