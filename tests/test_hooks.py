"""The app's bin/pre_compile and bin/post_compile hooks, run for real through the subprocess gateway."""

from __future__ import annotations

import io
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from pybuildpack import __version__
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.steps.hooks import run_hook
from support import FIXTURE_APPS
from support.buildpack import CompileResult

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out=out, err=err, environ={}), out, err


def copy_fixture(name: str, tmp_path: Path) -> Path:
    build_dir = tmp_path / "build"
    shutil.copytree(FIXTURE_APPS / name, build_dir, symlinks=True)
    return build_dir


def write_hook(build_dir: Path, name: str, body: str) -> Path:
    script = build_dir / "bin" / name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(body, encoding="utf-8")
    script.chmod(0o644)
    return script


def test_fixture_hooks_are_committed_non_executable() -> None:
    fixtures = (
        "hooks_pre_compile_fail",
        "hooks_pre_compile_pass_post_compile_fail",
        "hooks_delete_cache_dir",
    )
    for name in fixtures:
        for hook in (FIXTURE_APPS / name / "bin").iterdir():
            assert stat.S_IMODE(hook.stat().st_mode) & 0o111 == 0, hook


def test_missing_hook_does_nothing(tmp_path: Path) -> None:
    con, out, err = console()
    assert run_hook("pre_compile", tmp_path, BASE_ENV, con) is False
    (tmp_path / "bin/post_compile").mkdir(parents=True)
    assert run_hook("post_compile", tmp_path, BASE_ENV, con) is False
    assert out.getvalue() == err.getvalue() == ""


def test_unknown_hook_name(tmp_path: Path) -> None:
    con, _, _ = console()
    with pytest.raises(ValueError):
        run_hook("compile", tmp_path, BASE_ENV, con)


def test_pre_compile_pass_fixture(tmp_path: Path) -> None:
    build_dir = copy_fixture("hooks_pre_compile_pass_post_compile_fail", tmp_path)
    env = {
        **BASE_ENV,
        "BUILD_DIR": str(build_dir),
        "SOME_APP_CONFIG_VAR": "1",
        "HOME": "/nonexistent",
        "SHLVL": "3",
    }
    con, out, err = console()
    assert run_hook("pre_compile", build_dir, env, con) is True
    lines = out.getvalue().splitlines()
    assert lines[0] == "-----> Running bin/pre_compile hook"
    assert all(line.startswith("       ") for line in lines[1:])
    body = [line[7:] for line in lines[1:]]
    assert body[0] == "~ pre_compile hook: start"
    assert body[-1] == "~ pre_compile hook: end"
    printed = body[1:-1]
    assert printed == sorted(printed)
    assert f"BUILD_DIR={build_dir}" in printed
    assert "SOME_APP_CONFIG_VAR=1" in printed
    assert not any(line.startswith(("HOME=", "SHLVL=", "PWD=")) for line in printed)
    assert err.getvalue() == ""
    assert os.access(build_dir / "bin/pre_compile", os.X_OK)


def test_post_compile_fail_fixture(tmp_path: Path) -> None:
    build_dir = copy_fixture("hooks_pre_compile_pass_post_compile_fail", tmp_path)
    con, out, _ = console()
    with pytest.raises(BuildError) as caught:
        run_hook("post_compile", build_dir, BASE_ENV, con)
    assert "       Some post_compile error!\n" in out.getvalue()
    error = caught.value
    assert error.failure_reason == "hooks::post_compile"
    message = "\n".join(error.lines())
    assert "bin/post_compile" in message
    assert "non-zero" in message
    assert "remove" in message


def test_pre_compile_fail_fixture(tmp_path: Path) -> None:
    build_dir = copy_fixture("hooks_pre_compile_fail", tmp_path)
    con, out, _ = console()
    with pytest.raises(BuildError) as caught:
        run_hook("pre_compile", build_dir, BASE_ENV, con)
    assert out.getvalue() == "-----> Running bin/pre_compile hook\n       Some pre_compile error!\n"
    assert caught.value.failure_reason == "hooks::pre_compile"
    assert "bin/pre_compile" in caught.value.headline


def test_delete_cache_dir_fixture_runs_with_trace(tmp_path: Path) -> None:
    build_dir = copy_fixture("hooks_delete_cache_dir", tmp_path)
    cache_dir = tmp_path / "cache"
    (cache_dir / "build-data").mkdir(parents=True)
    con, out, _ = console()
    assert run_hook("post_compile", build_dir, {**BASE_ENV, "CACHE_DIR": str(cache_dir)}, con)
    assert not cache_dir.exists()
    assert f"       + rm -rf {cache_dir}\n" in out.getvalue()


def test_hook_runs_from_build_dir_with_relative_paths(tmp_path: Path) -> None:
    write_hook(tmp_path, "post_compile", "#!/bin/sh\nset -e\npwd\n./bin/helper.sh\n")
    write_hook(tmp_path, "helper.sh", "#!/bin/sh\necho helper ran\n").chmod(0o755)
    con, out, _ = console()
    assert run_hook("post_compile", tmp_path, BASE_ENV, con)
    assert out.getvalue().splitlines()[1:] == [f"       {tmp_path}", "       helper ran"]


def test_blank_lines_and_stderr_are_indented_in_order(tmp_path: Path) -> None:
    write_hook(tmp_path, "pre_compile", "#!/bin/sh\necho one\necho\necho two >&2\n")
    con, out, err = console()
    run_hook("pre_compile", tmp_path, BASE_ENV, con)
    assert out.getvalue().splitlines()[1:] == ["       one", "       ", "       two"]
    assert err.getvalue() == ""


def test_hook_without_shebang_runs_in_a_shell(tmp_path: Path) -> None:
    write_hook(tmp_path, "pre_compile", "echo no shebang\nexit 0\n")
    con, out, _ = console()
    assert run_hook("pre_compile", tmp_path, BASE_ENV, con)
    assert "       no shebang\n" in out.getvalue()


def test_hook_gets_exactly_the_given_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_hook(tmp_path, "pre_compile", '#!/bin/sh\necho "A=${A:-unset} B=${B:-unset}"\n')
    con, out, _ = console()
    monkeypatch.setenv("B", "leaked")
    run_hook("pre_compile", tmp_path, {**BASE_ENV, "A": "given"}, con)
    assert "       A=given B=unset\n" in out.getvalue()


def test_hook_gets_no_stdin(tmp_path: Path) -> None:
    script = "#!/bin/sh\nif read -r line; then echo got input; else echo no input; fi\n"
    write_hook(tmp_path, "pre_compile", script)
    con, out, _ = console()
    run_hook("pre_compile", tmp_path, BASE_ENV, con)
    assert "       no input\n" in out.getvalue()


def test_exit_status_is_in_the_error(tmp_path: Path) -> None:
    write_hook(tmp_path, "post_compile", "#!/bin/sh\nexit 3\n")
    con, _, _ = console()
    with pytest.raises(BuildError) as caught:
        run_hook("post_compile", tmp_path, BASE_ENV, con)
    assert "status 3" in "\n".join(caught.value.lines())


# --- end to end through bin/compile ----------------------------------------------------------------------


def test_hooks_fixture_through_compile(compile_app: Callable[..., CompileResult]) -> None:
    result = compile_app("hooks_pre_compile_pass_post_compile_fail", config={"SOME_APP_CONFIG_VAR": "1"})
    assert result.returncode == 1, result.describe()
    out = result.stdout
    assert out.startswith(
        f"-----> pybuildpack {__version__}\n"
        "-----> Running bin/pre_compile hook\n       ~ pre_compile hook: start\n"
    )
    start = out.index("~ pre_compile hook: start")
    printed = out[start : out.index("~ pre_compile hook: end")].splitlines()[1:]
    names = [line.strip().split("=", 1)[0] for line in printed]
    expected = {
        "BUILD_DIR",
        "CACHE_DIR",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "ENV_DIR",
        "LANG",
        "LD_LIBRARY_PATH",
        "LIBRARY_PATH",
        "PATH",
        "PKG_CONFIG_PATH",
        "PYTHONUNBUFFERED",
        "SOME_APP_CONFIG_VAR",
    }
    assert expected <= set(names), names
    assert not {"PYTHONHOME", "PYTHONPATH", "HOME", "PWD"} & set(names)
    assert "       SOME_APP_CONFIG_VAR=1" in printed
    assert "       PYTHONUNBUFFERED=1" in printed
    assert "-----> Running bin/post_compile hook\n       Some post_compile error!\n" in out
    assert "bin/post_compile" in result.stderr
    report = result.report()
    assert report["failure_reason"] == "hooks::post_compile"
    assert report["pre_compile_hook"] is True


def test_pre_compile_fail_through_compile(compile_app: Callable[..., CompileResult]) -> None:
    result = compile_app("hooks_pre_compile_fail")
    assert result.returncode == 1
    assert result.stdout == (
        f"-----> pybuildpack {__version__}\n"
        "-----> Running bin/pre_compile hook\n       Some pre_compile error!\n"
    )
    assert "Error: The 'bin/pre_compile' hook failed." in result.stderr
    assert result.report()["failure_reason"] == "hooks::pre_compile"
