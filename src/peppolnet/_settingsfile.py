"""Settings files: TOML read with every key checked, and secrets kept out of them.

Why one reader for every settings file (``peppolnet serve --config``, ``peppolnet request
--config``): an operator writes one file for the page and the command line alike, so a mistake in
it must read the same wherever it is found - one sentence naming the file and the key - and a
secret written in it must be refused the same way, naming the environment variable it belongs
in (a password in a file ends up in backups and repositories).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _

__all__ = ["TableReader", "parse_toml", "read_text", "read_toml"]

#: What each kind of value is called in an error, and the TOML types it accepts.
_KINDS: Final[Mapping[str, tuple[Message, tuple[type, ...]]]] = {
    "str": (_("text"), (str,)),
    "str | None": (_("text"), (str,)),
    "int": (_("a whole number"), (int,)),
    "float": (_("a number"), (int, float)),
    "bool": (_("true or false"), (bool,)),
    "list[str]": (_("a list of texts"), (list,)),
}


def read_toml(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The file at ``path`` as (its name for errors, its TOML data); one sentence when it
    cannot be read or is not TOML."""
    file = str(path)
    text = read_text(
        path,
        lambda reason: _(
            "cannot read the settings file {file}: {reason}", file=file, reason=reason
        ),
    )
    return file, parse_toml(text, file)


def read_text(path: str | os.PathLike[str], cannot: Callable[[str], Message]) -> str:
    """The UTF-8 text of an operator's file (settings, users); ``cannot(reason)`` - the
    sentence naming the file - raised as :class:`InvalidInput` when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(cannot(reason)) from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """``text`` as TOML data (``source`` names it in the error)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            _("{file} is not valid TOML: {reason}", file=source, reason=str(exc))
        ) from None


class TableReader:
    """Checks one table of the file against the keys it may hold and their kinds; ``secrets``
    maps the dotted keys that are secrets to the environment variables they come from."""

    def __init__(self, source: str, secrets: Mapping[str, str]) -> None:
        self.source = source
        self.secrets = secrets

    def values(
        self,
        table: object,
        where: str,
        keys: Mapping[str, str],
        tables: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """``table``'s values by key (its sub-``tables`` are left for their own call)."""
        if not isinstance(table, dict):
            raise self._wrong(where, _("a table"), table)
        found: dict[str, Any] = {}
        for key, value in table.items():
            name = f"{where}.{key}" if where else key
            if name in self.secrets:
                raise InvalidInput(
                    _(
                        "{file}: {key} is a secret and is not read from a file: set the "
                        "environment variable {variable}",
                        file=self.source,
                        key=name,
                        variable=self.secrets[name],
                    )
                )
            if tables is not None and key in tables:
                continue
            if key not in keys:
                known = sorted([*keys, *(tables or {})])
                raise InvalidInput(
                    _(
                        "{file}: unknown setting {key} (known here: {known})",
                        file=self.source,
                        key=name,
                        known=", ".join(known),
                    )
                )
            kind, accepted = _KINDS[keys[key]]
            if isinstance(value, bool) is not (bool in accepted) or not isinstance(value, accepted):
                raise self._wrong(name, kind, value)
            if isinstance(value, list) and not all(isinstance(item, str) for item in value):
                raise self._wrong(name, kind, value)
            found[key] = value
        return found

    def _wrong(self, key: str, kind: Message, value: object) -> InvalidInput:
        return InvalidInput(
            _(
                "{file}: {key} must be {kind}, not {value}",
                file=self.source,
                key=key or "the file",
                kind=kind,
                value=repr(value),
            )
        )
