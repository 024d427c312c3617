"""PyPy (experimental) for the tests: Debian's pypy3 packed once with the real CLI, and a manifest that
offers it beside the CPython runtime mirror.

``find_pypy()`` is the interpreter (``/usr/bin/pypy3``, from `apt-get install pypy3`; .ci/run installs
it), ``prepare_pypy()`` packs it into the test cache (``pypy-<key>``, keyed by the interpreter and the
packing code) and ``combined_manifest()`` writes a manifest holding both mirrors' entries.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import SRC
from support.cachedir import build_once, digest, prune
from support.mirror import PACKING_CODE, RuntimeMirror, pack_one

PYPY = Path(os.environ.get("PYBUILDPACK_TEST_PYPY", "/usr/bin/pypy3"))
SKIP_REASON = "no PyPy at {path}: install Debian's pypy3 (`apt-get install -y pypy3`) to run the PyPy tests"


def find_pypy() -> Path | None:
    return PYPY if PYPY.is_file() and os.access(PYPY, os.X_OK) else None


def pypy_key(interpreter: Path) -> str:
    real = Path(os.path.realpath(interpreter))
    parts: list[bytes | str] = [str(real), str(real.stat().st_mtime_ns)]
    package = SRC / "pybuildpack"
    for pattern in (*PACKING_CODE, "runtime/pack_pypy.py"):
        for path in sorted(package.glob(pattern)):
            parts += [str(path.relative_to(package)), path.read_bytes()]
    return digest(parts)


@dataclass(frozen=True)
class PackedPyPy:
    dir: Path
    entry: dict[str, Any]

    @property
    def archive(self) -> Path:
        return self.dir / str(self.entry["url"])

    @property
    def version(self) -> str:
        """The PyPy release (7.3.11)."""
        return str(self.entry["version"])

    @property
    def python_version(self) -> str:
        """The Python version it implements (3.9.16)."""
        return str(self.entry["python_version"])

    @property
    def major(self) -> str:
        return ".".join(self.python_version.split(".")[:2])


def prepare_pypy(cache: Path, interpreter: Path) -> PackedPyPy:
    entry_dir = cache / f"pypy-{pypy_key(interpreter)}"
    build_once(entry_dir, lambda staging: pack_one(interpreter, staging))
    prune(cache, "pypy-", keep=entry_dir, newest=1)
    manifest = json.loads((entry_dir / "manifest.json").read_text())
    (entry,) = manifest["runtimes"]
    return PackedPyPy(entry_dir, entry)


def _absolute(entry: dict[str, Any], base: Path) -> dict[str, Any]:
    url = str(entry["url"])
    return entry if "://" in url else {**entry, "url": (base / url).as_uri()}


def combined_manifest(target: Path, mirror: RuntimeMirror | None, pypy: Sequence[PackedPyPy]) -> Path:
    """``target/manifest.json`` with the CPython mirror's entries (if any) and the packed PyPys."""
    runtimes = [_absolute(entry, mirror.dir) for entry in mirror.runtimes] if mirror else []
    runtimes += [_absolute(packed.entry, packed.dir) for packed in pypy]
    target.mkdir(parents=True, exist_ok=True)
    path = target / "manifest.json"
    path.write_text(json.dumps({"schema": 1, "runtimes": runtimes}, indent=2) + "\n")
    return path


def copy_app(source: Path, target: Path, files: dict[str, str]) -> Path:
    """A copy of a fixture app with extra files (a version file) written into it."""
    shutil.copytree(source, target)
    for name, content in files.items():
        (target / name).write_text(content)
    return target
