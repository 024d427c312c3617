"""The engine must run from a git checkout with nothing installed: standard library only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def engine_modules() -> list[str]:
    modules = []
    for path in sorted((SRC / "pybuildpack").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] in {"__init__", "__main__"}:
            parts = parts[:-1] if parts[-1] == "__init__" else []
        if parts:
            modules.append(".".join(parts))
    return modules


def test_every_engine_module_imports_with_only_the_standard_library() -> None:
    modules = engine_modules()
    assert "pybuildpack.classic" in modules and len(modules) > 20
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "outside = [m.__name__ for m in list(sys.modules.values())\n"
        "           if getattr(m, '__file__', None) and 'site-packages' in m.__file__]\n"
        "assert not outside, outside\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *modules], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
