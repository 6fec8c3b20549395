"""A summary chart for reports: who can receive, by operator and by country (PNG or SVG).

matplotlib is an optional extra (``pip install 'peppolnet[chart]'``); it is imported only here,
only when a chart is asked for, with the non-interactive Agg backend so it works on servers.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peppolnet.bulk.summary import Summary, largest_first
from peppolnet.errors import InvalidInput, MissingExtra
from peppolnet.i18n import _, render

__all__ = ["chart_figure", "check_chart_path", "render_chart"]

_FORMATS = ("png", "svg")


def _matplotlib() -> Any:
    # import_module keeps mypy quiet whether or not the optional extra is installed
    try:
        return importlib.import_module("matplotlib")
    except ImportError as exc:
        raise MissingExtra(
            _("a chart needs matplotlib, which is not installed: pip install 'peppolnet[chart]'")
        ) from exc


def _pyplot() -> Any:
    _matplotlib().use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def _chart_format(file: Path) -> str:
    fmt = file.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise InvalidInput(_("the chart must be a .png or .svg file, not {name!r}", name=file.name))
    return fmt


def check_chart_path(path: str | Path) -> Path:
    """Raise :class:`InvalidInput` now if a chart could not be drawn to ``path`` later (a suffix
    other than ``.png``/``.svg``, or matplotlib not importable), so a run that was asked for a
    chart fails before the work, not after checking a whole register."""
    file = Path(path)
    _chart_format(file)
    _matplotlib()
    return file


def render_chart(
    summary: Summary,
    path: str | Path,
    *,
    title: str | None = None,
    language: str | None = None,
) -> Path:
    """Draw ``summary`` to ``path`` (``.png`` or ``.svg``, from the suffix); returns the path.

    Left: the share of all rows that can receive through each operator (the rest grouped as
    "cannot receive / not registered / unknown"). Right: per country, the share that can receive.
    Titles and axes are in ``language`` (``"sv"`` or ``"en"``, the default).
    """
    total = summary.total or 1
    operators = largest_first(summary.operators)[:12]
    others = summary.total - sum(summary.operators.values())
    rest = [render(_("cannot receive / unknown"), language)] if others else []
    labels = [plain_text(render(name, language)) for name, _count in operators] + rest
    shares = [100 * count / total for _name, count in operators] + (
        [100 * others / total] if others else []
    )
    countries = sorted(summary.countries)
    country_shares = [100 * summary.share_can_receive(cc) for cc in countries]

    height = max(3.0, 0.4 * max(len(labels), len(countries)) + 1.5)
    with chart_figure(path, 2, height) as (figure, (left, right)):
        left.barh(labels[::-1], shares[::-1], color="#3b7dd8")
        left.set_xlabel(render(_("% of rows"), language))
        left.set_title(render(_("can receive, by operator"), language))
        left.set_xlim(0, 100)
        right.barh(countries[::-1], country_shares[::-1], color="#2e9e5b")
        right.set_xlabel(render(_("% that can receive"), language))
        right.set_title(render(_("can receive, by country"), language))
        right.set_xlim(0, 100)
        heading = _("Peppol reachability of {count} rows", count=summary.total)
        figure.suptitle(title or render(heading, language))
    return Path(path)


def plain_text(text: str) -> str:
    """``text`` drawn as it is written. Operator names come from certificates: a ``$`` would
    start matplotlib's mathtext, which draws something else or fails the whole chart."""
    return text.replace("$", r"\$")


@contextlib.contextmanager
def chart_figure(path: str | Path, panels: int, height: float) -> Iterator[tuple[Any, Any]]:
    """A figure of ``panels`` side by side (each 6 inches wide) for the caller to draw on,
    saved to ``path`` (``.png``/``.svg``, from the suffix) when the block ends without an
    error, and closed either way. Yields ``(figure, axes)``. Raises
    :class:`~peppolnet.errors.InvalidInput` for a suffix it cannot write, a missing matplotlib
    (the ``chart`` extra) or a file that cannot be written."""
    file = Path(path)
    fmt = _chart_format(file)
    plt = _pyplot()
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, height))
    try:
        yield figure, axes
        figure.tight_layout()
        try:
            figure.savefig(file, format=fmt)
        except OSError as exc:
            problem = exc.strerror or str(exc)
            raise InvalidInput(
                _("cannot write the chart {name!r}: {problem}", name=str(file), problem=problem)
            ) from exc
    finally:
        plt.close(figure)
