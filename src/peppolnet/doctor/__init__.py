"""``peppolnet doctor``: is this machine, and its configuration, fit to look participants up?

A lookup that says "unknown" everywhere, NAPTR questions that fail inside a container, a
"not registered" that is only a resolver lying, SMP certificates that stopped chaining after the
G2 to G3 change, a configuration still naming the retired EC SML zones, a clock hours off, a
proxy in the way: each has been the answer to a support case. :func:`diagnose` checks them all
for one network and returns a :class:`Diagnosis`: one :class:`Finding` per check, each with a
status and, when it did not pass, what to do about it (docs/doctor.md lists them).

The checks use the same code as the lookups - the question code and its policy
(:mod:`peppolnet.dnsquery`), the rules that judge a denial (:mod:`peppolnet.sml`), DNSSEC
validation, the HTTP layer - so what the doctor finds is what a lookup meets.

    >>> from peppolnet.doctor import diagnose
    >>> # diagnose(sandbox.network).ok  -> True on a healthy machine (docs/doctor.md)
"""

from __future__ import annotations

from collections.abc import Mapping

from peppolnet.clock import Clock, as_clock
from peppolnet.doctor.machine import clock_skew, proxies
from peppolnet.doctor.model import Diagnosis, Finding
from peppolnet.doctor.parallel import at_once
from peppolnet.doctor.resolver import Resolver, resolver_checks
from peppolnet.doctor.trust import G2_END, tls_trust, trust_store
from peppolnet.doctor.zone import operator, resolves
from peppolnet.network import Network
from peppolnet.sml import nameservers

__all__ = ["G2_END", "Diagnosis", "Finding", "diagnose"]


def diagnose(
    network: Network,
    *,
    clock: Clock | None = None,
    timeout: float = 3.0,
    environ: Mapping[str, str] | None = None,
) -> Diagnosis:
    """Check the machine and configuration as they affect lookups on ``network``.

    ``clock`` is "now" for the trust store and the clock check (default the system's);
    ``timeout`` bounds each question and request; ``environ`` is where proxies are read
    (default ``os.environ``). Never raises for what the network does: a resolver that does not
    answer is a finding. Raises :class:`~peppolnet.errors.InvalidInput` for a network that
    names no usable nameserver.

    The checks that wait on the network (each resolver check of each nameserver, the zone's
    SOA, the Directory's clock) run at once, each in a thread of its own: a resolver that does
    not answer costs about one ``timeout``, not one per check. The findings keep their order.
    """
    now_clock = as_clock(clock)
    now = now_clock.now()
    zone = network.sml_zone.strip().rstrip(".").lower()
    servers = nameservers(network.nameservers)
    resolvers = [
        Resolver(server, network.dns_port, timeout, network, now_clock) for server in servers
    ]
    findings = at_once(
        [
            *resolver_checks(resolvers),
            ("sml-zone", lambda: resolves(zone, servers, network.dns_port, timeout)),
            ("sml-operator", lambda: operator(zone)),
            ("trust-store", lambda: trust_store(network, now)),
            ("tls-trust", lambda: tls_trust(network)),
            ("clock", lambda: clock_skew(network, now_clock.now(), timeout)),
            ("proxies", lambda: proxies(network, environ)),
        ]
    )
    return Diagnosis(network.name, zone, tuple(findings), now)
