"""Running patchelf for `runtime pack` (CPython and PyPy trees alike)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pybuildpack import run
from pybuildpack.errors import BuildError
from pybuildpack.runtime.manifest import FAILURE


def patchelf(binary: str, args: Sequence[str]) -> None:
    """Run ``binary`` (patchelf) with ``args``; a failure is a BuildError with its output."""
    result = run.capture([binary, *args], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if not result.ok:
        raise BuildError(
            f"patchelf failed (exit status {result.returncode}).",
            result.output.strip()[-2000:],
            "Check that patchelf works (`patchelf --version`); version 0.14 or newer is known to work.",
            FAILURE,
            "patchelf failed",
        )
