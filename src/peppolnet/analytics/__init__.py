"""The Peppol network as data: operator shares, politely surveyed.

:func:`operator_shares` looks participants up (ids, or the records of a Directory export)
through the bulk engine, politely per SMP host, and returns tables of who serves whom
(:class:`OperatorShares`); :func:`render_shares_chart` draws them. The tables need the
``analytics`` extra (``pip install 'peppolnet[analytics]'``: pyarrow, pandas), the chart the
``chart`` extra (matplotlib); both are imported only when used, so ``import
peppolnet.analytics`` costs nothing extra. See docs/results-data.md.

>>> from peppolnet.analytics import Politeness
>>> Politeness(per_host=1, interval=0.5)
Politeness(per_host=1, interval=0.5)
"""

from __future__ import annotations

from peppolnet.analytics.politeness import (
    HostRecord,
    HostTurns,
    PoliteLookup,
    Politeness,
    smp_origin,
)
from peppolnet.analytics.shares import (
    OperatorShares,
    ShareOptions,
    operator_shares,
    operator_shares_async,
)
from peppolnet.analytics.shares_chart import render_shares_chart

__all__ = [
    "HostRecord",
    "HostTurns",
    "OperatorShares",
    "PoliteLookup",
    "Politeness",
    "ShareOptions",
    "operator_shares",
    "operator_shares_async",
    "render_shares_chart",
    "smp_origin",
]
