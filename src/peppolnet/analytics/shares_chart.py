"""The operator shares chart (PNG or SVG), drawn like the bulk summary chart.

Left: each operator's share of the participants whose operator is known (the largest ones, the
rest as "other operators"). Right: per country, the same shares stacked, in the left panel's
colours, so a reader sees who serves which market. matplotlib is the ``chart`` extra.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Final

from peppolnet.bulk.chart import chart_figure, plain_text
from peppolnet.i18n import _, render

if TYPE_CHECKING:
    from peppolnet.analytics.shares import OperatorShares

__all__ = ["render_shares_chart"]

_COLOURS: Final = (
    "#3b7dd8", "#2e9e5b", "#e08a1e", "#8e5cc7", "#d2463c",
    "#2aa5a5", "#b5a020", "#c2569b", "#6b8e23", "#7f7f7f",
)  # fmt: skip
_OTHERS: Final = "#c8c8c8"


def render_shares_chart(
    shares: OperatorShares,
    path: str | Path,
    *,
    top: int = 8,
    title: str | None = None,
    language: str | None = None,
) -> Path:
    """Draw ``shares`` to ``path`` (``.png`` or ``.svg``, from the suffix); returns the path.

    ``top`` operators get a bar and a colour of their own (at most 10), the rest are "other
    operators". Titles and axes are in ``language`` (``"sv"`` or ``"en"``, the default).
    """
    operators = shares.by_operator.to_pylist()
    shown = [r["seat_id"] for r in operators[: max(1, min(top, len(_COLOURS)))]]
    labels = {r["seat_id"]: _label(r["operator_name"], r["seat_id"]) for r in operators}
    others = render(_("other operators"), language)
    left_labels = [labels[s] for s in shown]
    left_shares = [100 * r["share"] for r in operators[: len(shown)]]
    rest = 100 * sum(r["share"] for r in operators[len(shown) :])
    if rest > 0:
        left_labels.append(others)
        left_shares.append(rest)
    colours = [*_COLOURS[: len(shown)], *([_OTHERS] if rest > 0 else [])]

    per_country: dict[str, dict[str, float]] = defaultdict(dict)
    for r in shares.by_country.to_pylist():
        seat = r["seat_id"] if r["seat_id"] in shown else ""
        country = r["country"] or "??"
        per_country[country][seat] = per_country[country].get(seat, 0.0) + 100 * r["share"]
    countries = sorted(per_country)

    height = max(3.0, 0.4 * max(len(left_labels), len(countries)) + 1.5)
    with chart_figure(path, 2, height) as (figure, (left, right)):
        left.barh(left_labels[::-1], left_shares[::-1], color=colours[::-1])
        left.set_xlabel(render(_("% of participants with a known operator"), language))
        left.set_title(render(_("share by operator"), language))
        left.set_xlim(0, min(100.0, 1.2 * max(left_shares, default=0.0) + 1))
        start = [0.0] * len(countries)
        for seat, colour in [*zip(shown, _COLOURS, strict=False), ("", _OTHERS)]:
            widths = [per_country[cc].get(seat, 0.0) for cc in countries]
            right.barh(countries, widths, left=start, color=colour)
            start = [a + b for a, b in zip(start, widths, strict=True)]
        right.invert_yaxis()
        right.set_xlabel(
            render(_("% of the country's participants with a known operator"), language)
        )
        right.set_title(render(_("operators by country"), language))
        right.set_xlim(0, 100)
        heading = _(
            "Operator shares of {count} participants with a known operator",
            count=shares.attributed,
        )
        figure.suptitle(title or render(heading, language))
    return Path(path)


def _label(name: str | None, seat: str) -> str:
    return plain_text(f"{name} ({seat})" if name else seat)
