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


def test_every_lazy_export_has_its_real_type_for_type_checkers() -> None:
    """mypy and IDEs read the TYPE_CHECKING imports: each export must be there, from its module,
    or ``from peppolnet import Lookup`` is ``Any`` to them."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(peppolnet))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    typed = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname == alias.name  # `A as A`: an explicit re-export under --strict
    }
    assert typed == peppolnet._EXPORTS


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("peppolnet.network.TEST.sml_zone", "participant.sml.test.tech.peppol.org"),
        ("peppolnet.clock.SYSTEM_CLOCK", "SystemClock()"),
        ("peppolnet.TEST.name", "test"),
    ],
)
def test_submodules_are_reachable_after_a_bare_import(expression: str, expected: str) -> None:
    code = f"import peppolnet; print(str({expression}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_trust_errors_are_their_own_branch() -> None:
    """``except NetworkFault`` (try later) must never catch an answer that cannot be trusted."""
    from peppolnet import errors

    for error in (
        errors.InvalidSignature,
        errors.AlgorithmNotAllowed,
        errors.UntrustedCertificate,
        errors.ChainError,
    ):
        assert issubclass(error, errors.TrustError)
        assert not issubclass(error, errors.NetworkFault)
        assert error("x").retryable is False
