"""Small output helpers shared by the command modules: JSON, errors, tables."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from peppolnet.errors import InvalidInput


class UsageError(InvalidInput):
    """The command line itself is wrong (options that need each other, ...): exit code 2."""


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (limits, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def since_time(text: str | None) -> datetime | None:
    """``--since ISO-TIME`` as an aware datetime (UTC when no zone is given); None without one."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--since {text!r} is not an ISO 8601 time") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def print_json(data: Any) -> None:
    """Print one JSON document (UTF-8, stable key order as given) followed by a newline."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, *, code: int = 1) -> int:
    """Print ``peppolnet: error: message`` to stderr and return ``code`` for the caller to exit."""
    sys.stderr.write(f"peppolnet: error: {message}\n")
    return code


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """A plain left-aligned text table (no dependency, no colour)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows)
    return "\n".join(lines)
