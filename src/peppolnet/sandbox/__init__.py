"""A real local Peppol network built on the same core as the client (tests, demos, users' CI).

Sub-modules: ``pki`` (a test PKI shaped like Peppol's), ``signing`` (enveloped XML signer).
"""

from typing import Any

__all__ = ["Faults", "Sandbox", "SandboxConfig", "load_config"]

_LAZY = {
    "Sandbox": "peppolnet.sandbox.runtime",
    "SandboxConfig": "peppolnet.sandbox.config",
    "load_config": "peppolnet.sandbox.config",
    "Faults": "peppolnet.sandbox.http",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one sub-module (e.g. pki) does not start-import the whole sandbox.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
