"""docs/notebooks/network-analysis.ipynb runs, top to bottom, in a real Jupyter kernel, and its
tables and chart say what the sandbox holds.

The notebook is kept in git without outputs (the first test holds that): its outputs carry a
run's temporary paths and a 78 kB PNG that would change with every matplotlib release, and
stored outputs can go stale unnoticed - here every test run makes them afresh and checks them.

The kernel is the interpreter running the tests: a kernelspec written into a temporary folder
names ``sys.executable`` (with ipykernel from the ``test`` extra), so neither a "python3"
kernel registered on the machine nor the user's IPython profile decides what runs.
"""

from __future__ import annotations

import base64
import io
import os
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import peppolnet
from peppolnet.analytics import document_family
from peppolnet.sandbox import load_config

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "network-analysis.ipynb"
SRC = Path(peppolnet.__file__).resolve().parents[1]
KERNEL = "peppolnet-notebook-test"
# Generous: the notebook takes seconds; a busy 2-core machine must not fail it.
CELL_TIMEOUT = 300


def _kernel_manager(folder: Path) -> AsyncKernelManager:
    """A kernel of this interpreter, importing this checkout's peppolnet, in English."""
    pythonpath = [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {
        "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in pythonpath),
        "IPYTHONDIR": str(folder / "ipython"),  # no user profile or startup files
        "PEPPOLNET_LANG": "en",
    }
    write_kernel_spec(str(folder / "kernels" / KERNEL), overrides={"env": env})
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")])
    assert specs.get_kernel_spec(KERNEL).argv[0] == sys.executable
    return AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=specs,
        connection_file=str(folder / "connection.json"),
    )


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """The notebook after one run (cells that fail raise ``CellExecutionError`` here)."""
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kernel = _kernel_manager(folder)
    client = NotebookClient(
        notebook, km=kernel, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(folder)}}
    )
    # A kernel manager of ours is left running by nbclient unless told: shut it down, also
    # when a cell fails.
    client.execute(cleanup_kc=True)
    assert not kernel.has_kernel
    return notebook


def _cell(notebook: nbformat.NotebookNode, tag: str) -> Any:
    found = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    assert len(found) == 1, f"one cell tagged {tag!r}"
    return found[0]


def _result(cell: Any, mime: str) -> str:
    """The cell's displayed value as ``mime`` (its last expression's, or a display call's)."""
    shown = [o for o in cell.outputs if mime in o.get("data", {})]
    assert shown, f"no {mime} output in {cell.source[:60]!r}"
    return str(shown[-1]["data"][mime])


def _stdout(cell: Any) -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")


def _html_frame(cell: Any) -> pd.DataFrame:
    return pd.read_html(io.StringIO(_result(cell, "text/html")), index_col=0)[0]


def test_the_stored_notebook_is_valid_and_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(code) >= 10
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "Sandbox.start()" in code[0].source
    assert notebook.metadata.kernelspec.name == "python3"  # what a reader's Jupyter has


def test_every_cell_ran_in_order_without_an_error(executed: nbformat.NotebookNode) -> None:
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert "231 participants, 9 operators" in _stdout(code[0])


def test_the_counts_table_holds_the_sandbox_participants_per_country_and_family(
    executed: nbformat.NotebookNode,
) -> None:
    # What the sandbox's network file says, counted without the export, Parquet or DuckDB.
    expected: Counter[tuple[str, str]] = Counter()
    for participant in load_config().participants:
        if participant.business_card is not None:
            families = {document_family(d.value).value for d in participant.document_types}
            expected.update((participant.country, family) for family in families)
    frame = _html_frame(_cell(executed, "counts"))
    shown = {
        (row["country"], family): int(row[family])
        for row in frame.to_dict("records")
        for family in frame.columns.drop("country")
        if row[family]
    }
    assert shown == dict(expected)
    assert shown[("SE", "billing-invoice")] == 63


def test_the_diff_names_who_joined_left_and_changed(executed: nbformat.NotebookNode) -> None:
    cell = _cell(executed, "diff")
    out = _stdout(cell)
    assert "{'added': 1, 'removed': 1, 'changed': 1, 'old': 231, 'new': 231}" in out
    assert "added:   ['iso6523-actorid-upis::0216:003712345671']" in out
    assert "removed: ['iso6523-actorid-upis::0007:5584821341']" in out
    changed = _html_frame(cell)
    assert changed["new_name"].tolist() == ["Solberg Rør AS Holding"]


def test_the_operator_shares_table_covers_every_attributed_participant(
    executed: nbformat.NotebookNode,
) -> None:
    cell = _cell(executed, "shares")
    assert "231 participants looked up, an operator known for 163" in _stdout(cell)
    frame = _html_frame(cell)
    config = load_config()
    assert set(frame["seat_id"]) <= {op.seat_id for op in config.operators}
    assert frame["participants"].sum() == 163
    assert frame["share"].sum() == pytest.approx(1.0)
    assert frame["participants"].is_monotonic_decreasing


def test_the_chart_is_an_inline_png(executed: nbformat.NotebookNode) -> None:
    png = base64.b64decode(_result(_cell(executed, "chart"), "image/png"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width > height > 100  # two panels side by side


def test_the_bulk_results_are_a_dataframe_with_one_row_per_input_row(
    executed: nbformat.NotebookNode,
) -> None:
    frame = _html_frame(_cell(executed, "bulk"))
    assert frame["verdict"].tolist() == [
        "can-receive",
        "not-registered",
        "can-receive",
        "not-registered",
        "invalid-input",
    ]
    assert frame["seat_id"].tolist()[0] == "PFI000105"
