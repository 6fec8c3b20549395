"""What a worker process of ``check_many(processes=N)`` is sent: settings, never live objects.

A worker is forked from multiprocessing's fork server, not from the caller's process (whose
threads' locks a fork would copy mid-flight), so everything it gets is pickled. A lookup holds
sockets, connections and caches bound to its event loop; so the parent sends a :class:`Recipe`
- the network (a :class:`~peppolnet.network.Network` pickles its certificates as DER), the
lookup's plain settings, a :class:`~peppolnet.revocation.CrlChecker`'s settings - and each
worker makes its own lookup, revocation checker and :class:`~peppolnet.bulk.ResultCache` from
it.

Everything that can be wrong is found by :func:`recipe_for`, at the call: a lookup object, a
cache object or a clock of the caller's cannot be sent and is refused by name; a factory is
accepted when it is ``functools.partial(AsyncLookup | AsyncAutoLookup, network, **settings)``
with settings that pickle (that is what ``peppolnet check --dnssec`` and ``--network auto``
make).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import pickle
from typing import TYPE_CHECKING, Any, Final

from peppolnet._memory import DEFAULT_BUDGET
from peppolnet.clock import SystemClock
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.bulk.run import CheckOptions, _Plan
    from peppolnet.network import Network, Networks

__all__ = ["Recipe", "recipe_for"]

#: A CrlChecker's settings a worker's own checker is made with (its CRLs are its own).
_CRL_SETTINGS: Final = ("soft_fail", "timeout", "max_bytes", "max_entries", "destinations")
_CRL_DURATIONS: Final = ("max_age", "retry_after", "grace")

#: Tests only: every worker of the next runs fails on purpose (``("raise" | "exit", after
#: that many results)``), to prove that its rows still come back.
TEST_FAULT: tuple[str, int] | None = None


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A worker's run: its network(s), how to make its lookup, and its share of the run.

    ``networks`` and ``auto`` (the name of a :class:`~peppolnet.network.Networks`, for
    ``AsyncAutoLookup``, else None) say what is looked up in; ``lookup`` holds the lookup's
    keyword arguments (``per_host`` already this worker's share); ``revocation`` a
    ``CrlChecker``'s settings or None; ``run`` the engine's options (``concurrency`` and the
    result cache's ``max_bytes`` already this worker's share). ``fault`` is for tests only: a
    worker that fails on purpose (``raise``/``exit`` after that many results). ``log_level``
    is the caller's effective level for ``peppolnet``: records from it up are sent back.
    """

    networks: tuple[Network, ...]
    auto: str | None
    lookup: dict[str, Any]
    revocation: dict[str, Any] | None
    run: dict[str, Any]
    fault: tuple[str, int] | None = None
    log_level: int = logging.WARNING

    def plan(self) -> _Plan:
        """The worker's plan: its own lookup and cache, made from the settings (in the worker)."""
        from peppolnet.bulk.run import ResultCache, _plan

        run = dict(self.run)
        cache_settings = run.pop("cache")
        run["cache"] = ResultCache(**cache_settings)
        return _plan(self._factory(), run, "check_many")  # type: ignore[arg-type]

    def _factory(self) -> functools.partial[Any]:
        from peppolnet.auto import AsyncAutoLookup
        from peppolnet.lookup import AsyncLookup
        from peppolnet.network import Networks

        revocation = None
        if self.revocation is not None:
            from peppolnet.revocation import CrlChecker

            revocation = CrlChecker(**self.revocation)
        if self.auto is not None:
            return functools.partial(
                AsyncAutoLookup,
                Networks(self.auto, self.networks),
                revocation=revocation,
                **self.lookup,
            )
        return functools.partial(
            AsyncLookup, self.networks[0], revocation=revocation, **self.lookup
        )


def recipe_for(lookup: object, options: CheckOptions, processes: int) -> Recipe:
    """The :class:`Recipe` of a run over ``processes`` workers, or :class:`InvalidInput` naming
    what cannot be sent to another process.

    The run's totals stay what the caller chose: ``concurrency`` and ``per_host`` are split
    across the workers (rounded up), and so is the result cache's memory budget
    (:data:`~peppolnet._memory.DEFAULT_BUDGET` in all).
    """
    _refuse_live(options)
    concurrency = options.get("concurrency", 16)
    if processes > concurrency:
        raise InvalidInput(
            _(
                "processes ({processes}) must not exceed concurrency ({concurrency}): "
                "every worker process needs at least one lookup at a time",
                processes=processes,
                concurrency=concurrency,
            )
        )
    network, settings = _lookup_settings(lookup, options, concurrency)
    from peppolnet.bulk.run import default_per_host  # loaded already: run.py calls this

    per_host = settings.get("per_host") or default_per_host(concurrency)
    settings["per_host"] = math.ceil(per_host / processes)
    revocation = _crl_settings(settings.pop("revocation", None))
    from peppolnet.network import Networks

    networks = network.networks if isinstance(network, Networks) else (network,)
    recipe = Recipe(
        tuple(networks),
        network.name if isinstance(network, Networks) else None,
        settings,
        revocation,
        _run_settings(options, concurrency, processes),
        TEST_FAULT,
        logging.getLogger("peppolnet").getEffectiveLevel(),
    )
    try:
        pickle.dumps(recipe)
    except Exception as exc:  # a setting of the caller's that no other process can receive
        raise InvalidInput(
            _(
                "with processes > 1 every lookup setting is sent to the worker "
                "processes, and one cannot be: {exc}",
                exc=str(exc),
            )
        ) from exc
    return recipe


def _refuse_live(options: CheckOptions) -> None:
    """Options holding live objects that a worker process could not share."""
    if options.get("cache") is not None:
        raise InvalidInput(
            _(
                "cache= cannot be used with processes > 1: each worker process keeps a "
                "result cache of its own (a share of the memory budget), and an object "
                "of yours cannot be shared between processes"
            )
        )
    clock = options.get("clock")
    if clock is not None and not isinstance(clock, SystemClock):
        raise InvalidInput(
            _("clock= cannot be used with processes > 1: worker processes keep the system clock")
        )


def _lookup_settings(
    lookup: object, options: CheckOptions, concurrency: int
) -> tuple[Network | Networks, dict[str, Any]]:
    """The network and the lookup's keyword arguments: from the options (no ``lookup``), or
    from a ``functools.partial`` of ``AsyncLookup``/``AsyncAutoLookup``."""
    from peppolnet.auto import AsyncAutoLookup
    from peppolnet.lookup import AsyncLookup
    from peppolnet.network import PRODUCTION, Network, Networks

    if lookup is None:
        network = options.get("network") or PRODUCTION
        return network, {
            "per_host": options.get("per_host"),
            "timeout": options.get("timeout", 10.0),
            "deadline": options.get("deadline", 30.0),
            "revocation": options.get("revocation"),
        }
    if (
        isinstance(lookup, functools.partial)
        and lookup.func in (AsyncLookup, AsyncAutoLookup)
        and len(lookup.args) == 1
        and isinstance(lookup.args[0], Network | Networks)
        and (lookup.func is AsyncAutoLookup) == isinstance(lookup.args[0], Networks)
    ):
        if options.get("revocation") is not None:
            raise InvalidInput(
                _(
                    "pass revocation= either to check_many (for the run's own lookup) or to"
                    " your own lookup, not to both"
                )
            )
        return lookup.args[0], dict(lookup.keywords)
    raise InvalidInput(
        _(
            "with processes > 1 each worker process makes its own lookup from "
            "settings: pass network= (and per_host=, timeout=, deadline=, "
            "revocation=), or functools.partial(AsyncLookup, network, **settings); "
            "a lookup object cannot be sent to another process ({lookup})",
            lookup=repr(lookup),
        )
    )


def _crl_settings(checker: object) -> dict[str, Any] | None:
    """A :class:`~peppolnet.revocation.CrlChecker`'s settings, for each worker to make its own
    (its CRLs downloaded once per worker); any other revocation checker is refused."""
    if checker is None:
        return None
    from peppolnet.revocation import CrlChecker

    own_parts = getattr(checker, "_own_client", False) and isinstance(
        getattr(checker, "clock", None), SystemClock
    )
    if type(checker) is not CrlChecker or not own_parts:
        raise InvalidInput(
            _(
                "with processes > 1 revocation= must be a CrlChecker without an "
                "http_client or clock of yours: each worker process makes its own from "
                "its settings"
            )
        )
    settings = {name: getattr(checker, name) for name in _CRL_SETTINGS}
    for name in _CRL_DURATIONS:
        settings[name] = getattr(checker, name).total_seconds()
    return settings


def _run_settings(options: CheckOptions, concurrency: int, processes: int) -> dict[str, Any]:
    """The engine's options in a worker: its share of the concurrency and of the cache's
    budget, unordered (the parent puts the rows in order), its window the parent's."""
    window = options.get("window")
    window = window if window and window > 0 else max(256, concurrency * 16)
    document_type = options.get("document_type")
    return {
        "document_type": None if document_type is None else str(document_type),
        "concurrency": math.ceil(concurrency / processes),
        "retries": options.get("retries", 0),
        "backoff": options.get("backoff", 0.5),
        "window": window,
        "ordered": False,
        "cache": {"max_bytes": DEFAULT_BUDGET // processes},
    }
