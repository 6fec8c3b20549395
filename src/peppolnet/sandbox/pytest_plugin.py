"""pytest fixtures for a running peppolnet sandbox (installed with peppolnet, entry point pytest11).

* ``peppol_sandbox`` (session): one sandbox for the whole run - the default network, or the file
  named by ``--peppol-sandbox-config``, the ini option ``peppol_sandbox_config`` or the environment
  variable ``PEPPOLNET_SANDBOX_CONFIG`` (in that order). Session scope because starting costs
  ~50 ms and most tests only read from the network; tests that change it (move or remove a
  participant) should use the factory instead so they cannot leak into other tests.
* ``peppol_sandbox_factory`` (function): ``start(config=None, **options) -> Sandbox`` for tests
  that need their own network (a config path or a :class:`SandboxConfig`, extra zones, faults,
  a fixed DNS port);
  every sandbox it started is stopped after the test, even if the test fails.

Heavy imports happen inside the fixtures, so merely having peppolnet installed costs a test run
nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from peppolnet.sandbox.config import SandboxConfig
    from peppolnet.sandbox.http import Faults
    from peppolnet.sandbox.runtime import Sandbox

__all__ = ["SandboxFactory", "peppol_sandbox", "peppol_sandbox_factory"]

CONFIG_ENV = "PEPPOLNET_SANDBOX_CONFIG"
_OPTION = "--peppol-sandbox-config"
_INI = "peppol_sandbox_config"


class SandboxFactory(Protocol):
    """The callable ``peppol_sandbox_factory`` gives a test."""

    def __call__(
        self,
        config: SandboxConfig | Path | str | None = None,
        *,
        extra_zones: Sequence[str] = (),
        key_dir: Path | None = None,
        faults: Faults | None = None,
        dns_port: int = 0,
    ) -> Sandbox: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("peppolnet", "peppolnet sandbox")
    group.addoption(
        _OPTION,
        dest="peppol_sandbox_config",
        default=None,
        metavar="FILE",
        help=f"sandbox network TOML for the peppol_sandbox fixture (env: {CONFIG_ENV})",
    )
    parser.addini(
        _INI,
        "sandbox network TOML for the peppol_sandbox fixture, relative to the rootdir",
        default="",
    )


def configured_network_file(config: pytest.Config) -> Path | None:
    """The network file the run asks for: option, then ini, then environment; None = default."""
    option = config.getoption("peppol_sandbox_config", default=None)
    if option:
        return Path(config.invocation_params.dir, str(option))
    ini = str(config.getini(_INI) or "")
    if ini:
        return Path(config.rootpath, ini)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return None


def _start(
    config: SandboxConfig | Path | str | None,
    extra_zones: Sequence[str],
    key_dir: Path | None,
    faults: Faults | None,
    started: list[Sandbox],
    dns_port: int = 0,
    desk_delay: float = 2.0,
) -> Sandbox:
    from peppolnet.sandbox.config import SandboxConfig, load_config
    from peppolnet.sandbox.runtime import Sandbox

    if not isinstance(config, SandboxConfig):
        config = load_config(config)
    sandbox = Sandbox(
        config,
        extra_zones=extra_zones,
        key_dir=key_dir,
        faults=faults,
        dns_port=dns_port,
        desk_delay=desk_delay,
    )
    started.append(sandbox)  # before run(): a half-started sandbox is still stopped
    sandbox.run()
    return sandbox


@pytest.fixture(scope="session")
def peppol_sandbox(pytestconfig: pytest.Config) -> Iterator[Sandbox]:
    """A running sandbox shared by the whole test session (see the module docstring)."""
    started: list[Sandbox] = []
    try:
        yield _start(configured_network_file(pytestconfig), (), None, None, started)
    finally:
        for sandbox in started:
            sandbox.stop()


@pytest.fixture
def peppol_sandbox_factory() -> Iterator[SandboxFactory]:
    """Start sandboxes of your own inside one test; all are stopped after it."""
    started: list[Sandbox] = []

    def start(
        config: SandboxConfig | Path | str | None = None,
        *,
        extra_zones: Sequence[str] = (),
        key_dir: Path | None = None,
        faults: Faults | None = None,
        dns_port: int = 0,
        desk_delay: float = 2.0,
    ) -> Sandbox:
        return _start(config, extra_zones, key_dir, faults, started, dns_port, desk_delay)

    try:
        yield start
    finally:
        for sandbox in reversed(started):
            sandbox.stop()
