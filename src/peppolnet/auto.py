"""One lookup across networks, in order: ``--network auto`` (production, then test).

Why: support staff often do not know which network a customer is on, and a participant of the
test network looked up on production is simply "not registered". :class:`AutoLookup` asks each
network of a :class:`~peppolnet.network.Networks` in turn; the first where the participant is
registered answers, and the answer says which (``Reachability.network``, and a ``network`` check
first in the list).

Only a believed "not registered" moves on to the next network. A fault - a DNS timeout, an SMP
that does not answer, a bogus DNSSEC answer - is ``unknown`` and ends the search: asking the test
network then could report a customer from the wrong network when production merely failed to
answer.

The decision is one generator (:func:`_search`: it names the network to ask next and is sent
each answer); :class:`AutoLookup` and :class:`AsyncAutoLookup` only perform the lookups, each
network with a :class:`~peppolnet.lookup.Lookup` (or ``AsyncLookup``) of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.network import Networks, auto_networks
from peppolnet.reachability import Check, CheckStatus, Reachability, Verdict

if TYPE_CHECKING:
    from peppolnet.lookup import AsyncLookup, Lookup
    from peppolnet.trace.model import Trace

__all__ = ["AsyncAutoLookup", "AutoLookup"]

_Search = Generator[int, Reachability, Reachability]


def _search(names: Sequence[str]) -> _Search:
    """Yield the index of the network to ask next, receive its answer, return the one to give."""
    first: Reachability | None = None
    for index, name in enumerate(names):
        result: Reachability = yield index
        if result.verdict is not Verdict.NOT_REGISTERED:
            return _noted(result, _decided(result, name, names[:index], names[index + 1 :]))
        first = first or result
    assert first is not None
    everywhere = _("not registered on any network tried: {networks}", networks=", ".join(names))
    return _noted(first, Check("network", CheckStatus.FAIL, everywhere))


def _decided(result: Reachability, name: str, tried: Sequence[str], rest: Sequence[str]) -> Check:
    """The ``network`` check of the answer the search stopped at."""
    if result.verdict is Verdict.UNKNOWN:
        if rest:
            message = _(
                "the {network} network could not answer, so {rest} was not asked: a fault is "
                "not a 'no'",
                network=name,
                rest=", ".join(rest),
            )
        else:
            message = _(
                "not registered on {tried}; the {network} network could not answer",
                tried=", ".join(tried),
                network=name,
            )
        return Check("network", CheckStatus.SKIPPED, message)
    if not tried:
        message = _("registered on the {network} network, the first one tried", network=name)
    else:
        message = _(
            "not registered on {tried}; registered on the {network} network",
            tried=", ".join(tried),
            network=name,
        )
    return Check("network", CheckStatus.PASS, message)


def _noted(result: Reachability, check: Check) -> Reachability:
    return dataclasses.replace(result, checks=(check, *result.checks))


def _traced(names: Sequence[str], traces: Sequence[Trace], result: Reachability) -> Trace:
    """The trace of the network whose answer the search gave (``result.network``), with that
    answer and a ``network`` step first: which networks were asked, what each said, and which
    answered - the steps after it are that network's. Every other network asked keeps its own
    steps in the ``network`` step (``NetworkStep.others``, and ``steps`` in its ``asked`` entry),
    so why production said no is in the same trace as test's answer."""
    from peppolnet.trace.model import NetworkStep, Trace, numbered

    chosen = traces[names.index(result.network)]
    check = result.checks[0]
    asked = [
        {
            "network": name,
            "verdict": trace.reachability.verdict.value,
            "failed_step": trace.failed.name if trace.failed is not None else None,
            # the answering network's steps are the trace's own, after this step
            "steps": None if trace is chosen else numbered(trace.steps),
        }
        for name, trace in zip(names, traces, strict=False)
    ]
    step = NetworkStep(
        "network",
        check.status,
        check.message,
        details={"asked": asked, "answered": result.network},
        checks=(check,),
        others=tuple(trace for trace in traces if trace is not chosen),
    )
    return Trace((step, *chosen.steps), result)


def _networks(networks: Networks | None, options: dict[str, Any]) -> Networks:
    for own in ("resolver", "smp_client", "http_client"):
        if options.get(own) is not None:
            raise InvalidInput(
                _("{option} belongs to one network; an automatic lookup makes its own", option=own)
            )
    return networks if networks is not None else auto_networks()


class AutoLookup:
    """:class:`~peppolnet.lookup.Lookup` across ``networks`` (default production, then test;
    see the module notes). ``options`` are every network's lookup's (``deadline``, ``dnssec``,
    ``revocation``...), except the per-network ``resolver``, ``smp_client``, ``http_client``."""

    def __init__(self, networks: Networks | None = None, **options: Any) -> None:
        from peppolnet.lookup import Lookup

        self.networks = _networks(networks, options)
        self.lookups: list[Lookup] = [Lookup(n, **options) for n in self.networks]

    def check(self, participant: Any = None, **arguments: Any) -> Reachability:
        """What :meth:`Lookup.check <peppolnet.lookup.Lookup.check>` answers, from the first
        network where the participant is registered."""
        search = _search([n.name for n in self.networks])
        index = next(search)
        while True:
            answer = self.lookups[index].check(participant, **arguments)
            try:
                index = search.send(answer)
            except StopIteration as stop:
                result: Reachability = stop.value
                return result

    def trace(self, participant: Any = None, **arguments: Any) -> Trace:
        """:meth:`Lookup.trace <peppolnet.lookup.Lookup.trace>` on each network in turn, as
        :meth:`check` asks them: the trace of the network that answered, after a ``network``
        step that says which one did and what the others said, with their steps."""
        names = [n.name for n in self.networks]
        search = _search(names)
        index = next(search)
        traces: list[Trace] = []
        while True:
            traces.append(self.lookups[index].trace(participant, **arguments))
            try:
                index = search.send(traces[-1].reachability)
            except StopIteration as stop:
                return _traced(names, traces, stop.value)

    def close(self) -> None:
        for lookup in self.lookups:
            lookup.close()

    def __enter__(self) -> AutoLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAutoLookup:
    """The async twin of :class:`AutoLookup` (each network with an ``AsyncLookup``)."""

    def __init__(self, networks: Networks | None = None, **options: Any) -> None:
        from peppolnet.lookup import AsyncLookup

        self.networks = _networks(networks, options)
        self.lookups: list[AsyncLookup] = [AsyncLookup(n, **options) for n in self.networks]

    async def check(self, participant: Any = None, **arguments: Any) -> Reachability:
        """Async :meth:`AutoLookup.check`."""
        search = _search([n.name for n in self.networks])
        index = next(search)
        while True:
            answer = await self.lookups[index].check(participant, **arguments)
            try:
                index = search.send(answer)
            except StopIteration as stop:
                result: Reachability = stop.value
                return result

    async def trace(self, participant: Any = None, **arguments: Any) -> Trace:
        """Async :meth:`AutoLookup.trace`."""
        names = [n.name for n in self.networks]
        search = _search(names)
        index = next(search)
        traces: list[Trace] = []
        while True:
            traces.append(await self.lookups[index].trace(participant, **arguments))
            try:
                index = search.send(traces[-1].reachability)
            except StopIteration as stop:
                return _traced(names, traces, stop.value)

    async def aclose(self) -> None:
        for lookup in self.lookups:
            await lookup.aclose()

    async def __aenter__(self) -> AsyncAutoLookup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
