"""The sandbox state file: how ``--network sandbox`` finds a running ``peppolnet sandbox serve``.

``sandbox serve`` writes one small JSON file (zone, DNS address, SMP and Directory URLs, the paths
of the trust anchor PEM files and its own process id) and removes it when it stops. Every other
command, in any terminal, rebuilds a full :class:`~peppolnet.network.Network` from it, so no
addresses or ports need to be typed. Only paths are stored, never keys.

Where: ``$PEPPOLNET_SANDBOX_STATE`` if set, else ``$XDG_STATE_HOME/peppolnet/sandbox.json``
(``~/.local/state/peppolnet/sandbox.json`` by default) - a per-user place, like the key cache.

A state file whose process is no longer alive (the server was killed, the machine rebooted) is
*stale*: reading it is an error that says to start the sandbox again, rather than a lookup that
times out against ports nobody listens on.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.errors import PeppolnetError, SandboxError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.network import Network

__all__ = [
    "STATE_ENV",
    "default_state_path",
    "network_from_state",
    "pid_alive",
    "read_state",
    "remove_state",
    "write_state",
]

#: Environment variable that overrides the state file location.
STATE_ENV: Final = "PEPPOLNET_SANDBOX_STATE"
#: Keys a state file must have for :func:`network_from_state`.
_REQUIRED: Final = ("zone", "dns", "directory_url", "trust_anchor", "smp_ca", "ap_ca", "pid")
_HINT: Final = _("start one with `peppolnet sandbox serve`")


def default_state_path() -> Path:
    """``$PEPPOLNET_SANDBOX_STATE``, else ``$XDG_STATE_HOME/peppolnet/sandbox.json``."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "peppolnet" / "sandbox.json"


def _path(path: Path | str | None) -> Path:
    return Path(path) if path is not None else default_state_path()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 probes without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to someone else
        return True
    except (OSError, OverflowError):
        return False
    return True


def write_state(info: Mapping[str, Any], path: Path | str | None = None) -> Path:
    """Write ``info`` (what :meth:`Sandbox.info` returns) as JSON; returns the path written.

    Written to a temporary file and renamed, so a reader never sees half a file.
    """
    target = _path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dict(info), out, indent=2, default=str)
            out.write("\n")
        os.replace(tmp, target)
    except OSError as exc:
        raise SandboxError(
            _("cannot write the sandbox state file {target}: {exc}", target=target, exc=str(exc))
        ) from exc
    return target


def remove_state(path: Path | str | None = None) -> bool:
    """Remove the state file; returns whether there was one."""
    target = _path(path)
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SandboxError(
            _("cannot remove the sandbox state file {target}: {exc}", target=target, exc=str(exc))
        ) from exc
    return True


def read_state(path: Path | str | None = None, *, check_alive: bool = True) -> dict[str, Any]:
    """The state a running sandbox wrote. Missing, unreadable or stale -> :class:`SandboxError`."""
    target = _path(path)
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise SandboxError(
            _(
                "no sandbox is running (no state file at {target}); {hint}",
                target=target,
                hint=_HINT,
            )
        ) from None
    except OSError as exc:
        raise SandboxError(
            _("cannot read the sandbox state file {target}: {exc}", target=target, exc=str(exc))
        ) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError
        data = None
    if not isinstance(data, dict):
        raise SandboxError(
            _(
                "the sandbox state file {target} is not a JSON object; {hint}",
                target=target,
                hint=_HINT,
            )
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise SandboxError(
            _(
                "the sandbox state file {target} lacks {listed}; {hint}",
                target=target,
                listed=", ".join(missing),
                hint=_HINT,
            )
        )
    pid = data["pid"]
    if not isinstance(pid, int) or isinstance(pid, bool):
        raise SandboxError(
            _(
                "the sandbox state file {target} has no valid pid; {hint}",
                target=target,
                hint=_HINT,
            )
        )
    if check_alive and not pid_alive(pid):
        raise SandboxError(
            _(
                "the sandbox state file {target} is stale (process {pid} is not running); {hint}",
                target=target,
                pid=pid,
                hint=_HINT,
            )
        )
    return data


def network_from_state(path: Path | str | None = None) -> Network:
    """A full :class:`~peppolnet.network.Network` for the sandbox the state file describes."""
    from peppolnet.destinations import LOOPBACK_ALLOWED
    from peppolnet.network import Network, load_pem_bundle
    from peppolnet.xmldsig import SignaturePolicy

    target = _path(path)
    state = read_state(target)
    dns = state["dns"]
    try:
        host = str(dns["host"])
        port = int(dns["port"])
        zone = str(state["zone"])
        directory_url = str(state["directory_url"])
        trust_anchor = str(state["trust_anchor"])
        listed = state.get("dnssec_anchors", [])  # older state files have none
        if not isinstance(listed, list):
            raise TypeError(_("dnssec_anchors is not a list"))
        anchors = tuple(str(ds) for ds in listed)
    except (TypeError, KeyError, ValueError) as exc:
        raise SandboxError(
            _(
                "the sandbox state file {target} is malformed ({exc}); {hint}",
                target=target,
                exc=exc,
                hint=_HINT,
            )
        ) from None
    try:
        smp_ca = load_pem_bundle(str(state["smp_ca"]))
        ap_ca = load_pem_bundle(str(state["ap_ca"]))
    except PeppolnetError as exc:
        raise SandboxError(
            _(
                "the sandbox state file {target} names a bad CA file: {exc}",
                target=target,
                exc=exc.message,
            )
        ) from exc
    if not Path(trust_anchor).is_file():
        raise SandboxError(
            _(
                "the sandbox TLS trust anchor {trust_anchor} named in {target} is missing; {hint}",
                trust_anchor=trust_anchor,
                target=target,
                hint=_HINT,
            )
        )
    return Network(
        name=str(state.get("name", "sandbox")),
        sml_zone=zone,
        smp_ca=smp_ca,
        ap_ca=ap_ca,
        directory_url=directory_url,
        signature_policy=SignaturePolicy.strict(),
        require_https=True,
        nameservers=(host,),
        dns_port=port,
        tls_verify=trust_anchor,
        legacy_cname=False,
        destinations=LOOPBACK_ALLOWED,  # the sandbox's servers all listen on 127.0.0.1
        dnssec_anchors=anchors,  # the sandbox signs its zones with keys of its own
    )
