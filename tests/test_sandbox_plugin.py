"""The pytest plugin as a user meets it: a test file using the fixtures, run by a real pytest.

Each case writes a small test module with ``pytester`` and runs it in a subprocess with
``-p peppolnet.sandbox.pytest_plugin`` (plugin auto-loading off, so the result does not depend on
which other plugins or entry points happen to be installed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from peppolnet.sandbox.config import default_config_path

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "peppolnet.sandbox.pytest_plugin")

SMALL_NETWORK = """
[network]
name = "mine"
zone = "sml.mine.test"

[[operators]]
id = "a"
name = "A AB"
seat_id = "PSE000001"
country = "SE"
smp = "a-smp"
ap_url = "https://ap.a.test/as4"

[[smps]]
id = "a-smp"
operator = "a"
dialect = "oasis-smp-2"

[[participants]]
id = "0007:5567321707"
name = "X AB"
country = "SE"
operator = "a"
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PEPPOLNET_SANDBOX_CONFIG", raising=False)


def test_default_network_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        from peppolnet.lookup import Lookup

        def test_can_receive(peppol_sandbox):
            with Lookup(peppol_sandbox.network) as lookup:
                result = lookup.check("0007:5584821341")
            assert result.verdict.value == "can-receive"

        def test_same_session_sandbox(peppol_sandbox, request):
            assert peppol_sandbox.config.zone == "sml.sandbox.peppolnet.test"
            assert len(peppol_sandbox.participants) >= 200
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "-q")
    result.assert_outcomes(passed=2)


def test_config_from_command_line_ini_and_env(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".toml", mine=SMALL_NETWORK)
    pytester.makepyfile(
        test_user="""
        def test_my_network(peppol_sandbox):
            assert peppol_sandbox.config.zone == "sml.mine.test"
            assert [p.value for p in peppol_sandbox.participants] == ["0007:5567321707"]
        """
    )
    pytester.runpytest_subprocess(
        *PLUGIN, "-q", "--peppol-sandbox-config", "mine.toml"
    ).assert_outcomes(passed=1)

    monkeypatch.setenv("PEPPOLNET_SANDBOX_CONFIG", str(pytester.path / "mine.toml"))
    pytester.runpytest_subprocess(*PLUGIN, "-q").assert_outcomes(passed=1)
    monkeypatch.delenv("PEPPOLNET_SANDBOX_CONFIG")

    pytester.makeini("[pytest]\npeppol_sandbox_config = mine.toml\n")
    pytester.runpytest_subprocess(*PLUGIN, "-q").assert_outcomes(passed=1)


def test_factory_starts_and_stops(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", mine=SMALL_NETWORK)
    pytester.makepyfile(
        test_user="""
        import socket
        import pytest
        from peppolnet.sandbox.config import load_config

        PORTS = []

        def test_two_sandboxes(peppol_sandbox_factory):
            a = peppol_sandbox_factory("mine.toml")
            b = peppol_sandbox_factory(load_config("mine.toml"), extra_zones=["other.test"])
            assert a.dns.port != b.dns.port
            assert b.info()["zones"] == ["sml.mine.test", "other.test"]
            PORTS.extend([a.smps["a-smp"].port, b.smps["a-smp"].port])

        def test_they_were_stopped():
            for port in PORTS:
                with pytest.raises(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()

        def test_bad_file_is_a_sandbox_error(peppol_sandbox_factory):
            from peppolnet.errors import SandboxError
            with pytest.raises(SandboxError, match="cannot read"):
                peppol_sandbox_factory("missing.toml")
        """
    )
    pytester.runpytest_subprocess(*PLUGIN, "-q", "-p", "no:randomly").assert_outcomes(passed=3)


def test_broken_config_errors_the_tests_that_use_it(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", broken="[[operators]\n")
    pytester.makepyfile(
        test_user="""
        def test_needs_sandbox(peppol_sandbox):
            pass

        def test_does_not():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "--peppol-sandbox-config", "broken.toml")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*SandboxError*not valid TOML*"])


def test_help_lists_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(*PLUGIN, "--help")
    result.stdout.fnmatch_lines(["*--peppol-sandbox-config=FILE*"])
    assert default_config_path().is_file()


def test_restarts_reuse_the_keys(tmp_path: Path) -> None:
    """Why a start is cheap once keys exist: no key is generated again (its speed is measured
    by the sandbox start+stop row of ``nox -s bench``, not here)."""
    from peppolnet.sandbox.config import load_config
    from peppolnet.sandbox.runtime import Sandbox

    config = load_config()
    with Sandbox.start(config, key_dir=tmp_path):  # warm-up: keys exist afterwards
        pass
    keys = {p.name: p.read_bytes() for p in tmp_path.glob("*.key.pem")}
    assert len(keys) >= 3  # root, SMP CA, AP CA and the leaves
    for _ in range(3):
        with Sandbox.start(config, key_dir=tmp_path) as sandbox:
            assert sandbox.info()["participants"] == len(config.participants)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.key.pem")} == keys


def test_docs_example_test_file_passes(pytester: pytest.Pytester) -> None:
    """The example test file shown in docs/sandbox.md really passes with the plugin."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sandbox.md").read_text()
    match = re.search(r"```python\n# test_invoicing.py\n(.*?)```", doc, re.S)
    assert match is not None, "the example test file is missing from docs/sandbox.md"
    pytester.makepyfile(test_invoicing=match.group(1))
    pytester.runpytest_subprocess(*PLUGIN, "-q").assert_outcomes(passed=2)
