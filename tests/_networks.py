"""Small sandbox networks for tests that inject faults into one operator and not another.

Why a helper: the retry, hostile-network and revocation tests each need the same shape - a few
Swedish operators, each with an SMP of its own, and participants placed on them - and had three
copies of its TOML (docs/sandbox.md describes the format).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peppolnet.sandbox import Sandbox
    from peppolnet.sandbox.http import Faults


def operators_network(
    participants: Sequence[tuple[str, str] | tuple[str, str, Sequence[str]]],
) -> str:
    """The TOML of a network with one operator per id the ``participants`` name - ``"a"`` is
    "Operator A AB", Seat ID PSE000001, on SMP ``a-smp`` - in order of first mention, and each
    participant ``(id, operator)`` or ``(id, operator, quirks)`` on its operator's SMP."""
    operators = list(dict.fromkeys(entry[1] for entry in participants))
    parts = [
        f"""
[[operators]]
id = "{op}"
name = "Operator {op.upper()} AB"
seat_id = "PSE{number:06d}"
country = "SE"
smp = "{op}-smp"
ap_url = "https://ap.{op}.test/as4"

[[smps]]
id = "{op}-smp"
operator = "{op}"
"""
        for number, op in enumerate(operators, start=1)
    ]
    for number, entry in enumerate(participants, start=1):
        quirks = ", ".join(f'"{quirk}"' for quirk in (entry[2] if len(entry) == 3 else ()))
        parts.append(
            f"""
[[participants]]
id = "{entry[0]}"
name = "Customer {number} AB"
country = "SE"
operator = "{entry[1]}"
quirks = [{quirks}]
"""
        )
    return "".join(parts)


@contextlib.contextmanager
def crl_faults(net: Sandbox, faults: Faults) -> Iterator[None]:
    """Run the block with the sandbox's CRL server failing as ``faults`` says (the revocation
    and trace tests make it reset, time out or answer 5xx)."""
    from peppolnet.sandbox.http import Faults

    assert net.crl_server is not None
    net.crl_server.faults = faults
    try:
        yield
    finally:
        net.crl_server.faults = Faults()
