"""See every step of a lookup: :meth:`peppolnet.lookup.Lookup.trace` and ``peppolnet trace``.

A :class:`Trace` is the lookup's own result (:class:`~peppolnet.reachability.Reachability`) and
every step that led to it, in order, each with its timing, status, ``retryable`` flag, one
sentence and its facts as plain data: the identifier as parsed, the SML name (its hash shown),
the DNS question and answer (records, TTL, aliases, the authority's SOA, the RCODE, the AD bit),
the SMP URL from the NAPTR record, the SMP host's addresses, the TLS handshake (protocol, the
server's certificate and chain, the trust store), each HTTP request (status, headers, size,
time), the service group, the ServiceMetadata (and the redirect followed), the signature
(algorithm, digest, canonicalization, signer), the SMP's certificate and its chain, the endpoint
and the access point certificate - up to the step that failed, if one did, and the verdict.

The trace is recorded while the lookup runs, from what the drivers already see (see
:mod:`peppolnet.trace.recorder`): no request is made twice, and a lookup that is not traced pays
nothing for it. docs/trace.md shows a trace from the sandbox and lists every step's facts.
"""

from __future__ import annotations

from peppolnet.trace.model import STEP_NAMES, Trace, TraceStep

__all__ = ["STEP_NAMES", "Trace", "TraceStep"]
