"""The build cache through real builds: reuse, in-place updates, every discard reason, integrity."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support import REPO
from support.buildpack import CompileResult
from support.mirror import RuntimeMirror

Compile = Callable[..., CompileResult]


@pytest.fixture
def app(tmp_path: Path, runtime_mirror: RuntimeMirror) -> Path:
    if not runtime_mirror.has("3.12"):
        pytest.skip("the test runtime mirror has no Python 3.12")
    app = tmp_path / "app"
    (app / "requirements").mkdir(parents=True)
    (app / ".python-version").write_text("3.12\n")
    (app / "requirements.txt").write_text("-r requirements/base.txt\nsix==1.17.0\n")
    (app / "requirements" / "base.txt").write_text("typing-extensions==4.15.0\n")
    return app


def importable(result: CompileResult, module: str) -> bool:
    python = result.build_dir / ".heroku" / "python" / "bin" / "python"
    proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False, timeout=60)
    return proc.returncode == 0


def reasons(result: CompileResult) -> list[str]:
    """The indented '- reason' lines under the cache step."""
    return [line.strip()[2:] for line in result.stdout.splitlines() if line.startswith("       - ")]


def test_unchanged_inputs_reuse_the_environment_without_running_the_installer(
    compile_app: Compile, app: Path
) -> None:
    first = compile_app(app).check()
    assert first.report()["cache_status"] == "empty"
    second = first.recompile(app).check()
    assert "-----> Restoring cache" in second.stdout
    assert "requirements.txt, requirements/base.txt" in second.stdout  # what was compared
    assert "Using cached install of Python" in second.stdout
    assert "Using cached pip" in second.stdout
    for installer_line in ("Installing dependencies", "Collecting", "Requirement already satisfied"):
        assert installer_line not in second.stdout
    report = second.report()
    assert report["cache_status"] == "reused"
    assert report["cache_size"] > 0
    assert importable(second, "six") and importable(second, "typing_extensions")
    # bytecode is hash-based, so relocation and 1980 mtimes do not make Python recompile it
    site = next((second.build_dir / ".heroku/python/lib").glob("python3.*/site-packages"))
    pyc = next((site / "__pycache__").glob("typing_extensions.*.pyc"))
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") & 0b1


def test_removed_requirement_is_really_removed(compile_app: Compile, app: Path) -> None:
    first = compile_app(app).check()
    (app / "requirements.txt").write_text("-r requirements/base.txt\n")
    second = first.recompile(app).check()
    assert reasons(second) == ["The contents of requirements.txt changed"]
    assert "Removing packages no longer required: six" in second.stdout
    assert second.report()["cache_status"] == "partial"
    assert not importable(second, "six")
    assert importable(second, "typing_extensions")
    listed = subprocess.run(
        [second.build_dir / ".heroku/python/bin/python", "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "six" not in {item["name"].lower() for item in json.loads(listed)}


def test_nested_requirement_file_change_is_seen(compile_app: Compile, app: Path) -> None:
    first = compile_app(app).check()
    (app / "requirements" / "base.txt").write_text("typing-extensions==4.15.0\nwheel==0.48.0\n")
    second = first.recompile(app).check()
    assert reasons(second) == ["The contents of requirements/base.txt changed"]
    assert importable(second, "wheel")


def test_python_version_change_discards(
    compile_app: Compile, app: Path, runtime_mirror: RuntimeMirror
) -> None:
    if not runtime_mirror.has("3.13"):
        pytest.skip("the test runtime mirror has no Python 3.13")
    first = compile_app(app).check()
    (app / ".python-version").write_text("3.13\n")
    second = first.recompile(app).check()
    old, new = runtime_mirror.latest("3.12"), runtime_mirror.latest("3.13")
    assert "-----> Discarding cache since:" in second.stdout
    assert reasons(second) == [f"The Python version changed from {old} to {new}"]
    assert f"Installing Python {new}" in second.stdout
    assert second.report()["cache_status"] == "discarded"


def test_stack_change_discards(compile_app: Compile, app: Path) -> None:
    first = compile_app(app, extra_env={"STACK": "heroku-24"}).check()
    second = first.recompile(app).check()
    [reason] = reasons(second)
    assert reason.startswith("The stack changed from heroku-24 to ")
    assert second.report()["cache_status"] == "discarded"


def forge_key(result: CompileResult, **changes: str) -> None:
    key_file = result.cache_dir / "pybuildpack" / "env" / "key.json"
    key = json.loads(key_file.read_text())
    key.update(changes)
    key_file.write_text(json.dumps(key))


def test_manager_and_tool_version_changes_discard(compile_app: Compile, app: Path) -> None:
    first = compile_app(app).check()
    forge_key(first, manager_version="25.0")
    second = first.recompile(app).check()
    assert reasons(second) == ["The pip version changed from 25.0 to 26.3"]
    forge_key(second, manager="uv", manager_version="0.13.9")
    third = second.recompile(app).check()
    assert reasons(third) == ["The package manager changed from uv to pip"]
    assert "Installing pip" in third.stdout


def test_clear_cache_setting_starts_clean(compile_app: Compile, app: Path) -> None:
    first = compile_app(app).check()
    second = first.recompile(app, config={"PYBUILDPACK_CLEAR_CACHE": "1"}).check()
    assert reasons(second) == ["PYBUILDPACK_CLEAR_CACHE is set"]
    assert "Installing Python" in second.stdout


def test_a_tampered_environment_fails_its_check_and_is_rebuilt(compile_app: Compile, app: Path) -> None:
    first = compile_app(app).check()
    site = next((first.cache_dir / "pybuildpack" / "env" / "python" / "lib").glob("python*/site-packages"))
    shutil.rmtree(next(site.glob("six-*.dist-info")))
    second = first.recompile(app).check()
    assert reasons(second)[0].startswith("The cached environment failed its check")
    assert importable(second, "six")


def compile_process(result: CompileResult, app: Path, build_dir: Path) -> subprocess.Popen[str]:
    shutil.copytree(app, build_dir)
    return subprocess.Popen(
        ["sh", str(REPO / "bin" / "compile"), str(build_dir), str(result.cache_dir), str(result.env_dir)],
        env=result.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip


def kill_when(proc: subprocess.Popen[str], marker: str, timeout: float = 300) -> str:
    """Read the build log until marker appears, then SIGKILL the whole build."""
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return "".join(seen)


@pytest.mark.parametrize("marker", ["Collecting", "Saving cache"])
def test_a_killed_build_leaves_the_next_one_correct(
    compile_app: Compile, app: Path, tmp_path: Path, marker: str
) -> None:
    first = compile_app(app).check()
    (app / "requirements.txt").write_text("-r requirements/base.txt\nwheel==0.48.0\n")
    log = kill_when(compile_process(first, app, tmp_path / "killed"), marker)
    assert marker in log
    third = first.recompile(app).check()
    assert importable(third, "wheel") and not importable(third, "six")
    if marker == "Collecting":
        assert reasons(third) == ["The previous build using this cache did not finish"]


def test_two_builds_on_one_cache_are_serialised(compile_app: Compile, app: Path, tmp_path: Path) -> None:
    first = compile_app(app).check()
    procs = [compile_process(first, app, tmp_path / f"concurrent-{n}") for n in range(2)]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        outputs.append(out)
        assert proc.returncode == 0, out
    assert any("Waiting for another build that is using the cache dir" in out for out in outputs)
