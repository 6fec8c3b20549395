"""The ``analytics`` extra: pyarrow, DuckDB and pandas, imported only when asked for.

``import peppolnet`` and ``import peppolnet.analytics`` never import them (each costs a
noticeable part of a second); the functions that need one call :func:`require`, which turns a
missing package into :class:`~peppolnet.errors.MissingExtra` with the command that installs it.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from peppolnet.errors import MissingExtra
from peppolnet.i18n import _

__all__ = ["INSTALL", "require"]

INSTALL: Final = "pip install 'peppolnet[analytics]'"
_PACKAGES: Final = {"pyarrow": "pyarrow", "duckdb": "DuckDB", "pandas": "pandas"}


def require(module: str, what: str = "this") -> Any:
    """``module`` imported, or :class:`MissingExtra` naming the extra (``what`` says who
    needs it: "a Parquet file", "a diff")."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PACKAGES.get(module.split(".", 1)[0], module)
        raise MissingExtra(
            _(
                "{what} needs {package}, which is not installed: {install}",
                what=what,
                package=package,
                install=INSTALL,
            )
        ) from exc
