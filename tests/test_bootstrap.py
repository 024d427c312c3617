"""bin/compile on a build host without any python3 >= 3.11 (Heroku-22, Ubuntu 22.04 images): the shim
fetches a CPython >= 3.11 named by the manifest, checks it, keeps it in CACHE_DIR and runs with it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support import REPO
from support.mirror import RuntimeMirror
from support.namespaces import hiding_pythons


def test_compile_without_any_python_311(
    tmp_path: Path, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    if not runtime_mirror.has("3.11"):
        pytest.skip("the runtime mirror has no Python 3.11")
    hide = hiding_pythons(tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("typing-extensions==4.15.0\n")
    (app / ".python-version").write_text("3.11\n")
    cache, env_dir = tmp_path / "cache", tmp_path / "env"
    env_dir.mkdir()
    outputs = []
    for number in (1, 2):
        build = tmp_path / f"build{number}"
        shutil.copytree(app, build)
        compile_cmd = ["sh", str(REPO / "bin" / "compile"), str(build), str(cache), str(env_dir)]
        proc = subprocess.run(
            [*hide, *compile_cmd],
            env=build_env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
    assert all("Running pybuildpack with Python 3.1" in out for out in outputs)
    engines = list((cache / "pybuildpack-engine").iterdir())
    assert len(engines) == 1 and (engines[0] / ".complete").exists()  # fetched once, reused
    assert "Unchanged since the last build" in outputs[1]
