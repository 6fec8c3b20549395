"""The shape the code keeps: no function in src/ over 80 lines.

A function that long is read in pieces and changed in one; split, each piece gets a name that
says what it does. One function may stay longer if its docstring says why (an argparse set-up
that is only a list, say): it is named in :data:`EXCEPTION`, so a second one cannot slip in.
"""

from __future__ import annotations

import ast
from pathlib import Path

MAX_LINES = 80
#: The one function allowed over MAX_LINES ("path/inside/src.py:name"), whose docstring must say
#: why; None while every function keeps the rule.
EXCEPTION: str | None = None

SRC = Path(__file__).resolve().parent.parent / "src"


def long_functions(root: Path, limit: int = MAX_LINES) -> dict[str, ast.AST]:
    """Every function (methods and nested ones too) of the Python files under ``root`` longer
    than ``limit`` lines, by ``"path:name"`` (the path relative to ``root``)."""
    found: dict[str, ast.AST] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > limit:
                    found[f"{path.relative_to(root).as_posix()}:{node.name}"] = node
    return found


def test_no_function_in_src_is_over_80_lines() -> None:
    found = long_functions(SRC)
    unexplained = sorted(set(found) - {EXCEPTION})
    assert not unexplained, f"over {MAX_LINES} lines: split them: {unexplained}"
    if EXCEPTION is not None and EXCEPTION in found:
        node = found[EXCEPTION]
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        assert "long" in (ast.get_docstring(node) or ""), f"{EXCEPTION} must say why it is long"


def test_the_rule_sees_long_functions_methods_and_nested_ones(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        f"def long():\n{body}\n\n"
        f"def short():\n    return 1\n\n"
        f"class C:\n    async def method(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n\n"
        f"def outer():\n    def inner():\n    {body.replace(chr(10), chr(10) + '    ')}\n",
        encoding="utf-8",
    )
    assert sorted(long_functions(tmp_path)) == [
        "pkg/m.py:inner",
        "pkg/m.py:long",
        "pkg/m.py:method",
        "pkg/m.py:outer",
    ]
    assert sorted(long_functions(tmp_path, limit=81)) == ["pkg/m.py:outer"]  # 82 lines
