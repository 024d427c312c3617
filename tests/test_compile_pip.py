"""bin/compile with pip, on real runtimes from the test mirror and the local package index."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.buildpack import CompileResult
from support.mirror import RuntimeMirror

Compile = Callable[..., CompileResult]


def built_python(result: CompileResult, code: str, *, cwd: Path | None = None) -> str:
    """Run the built app's Python as the platform does at boot: profile sourced, HOME = app dir."""
    script = 'for f in .profile.d/*.sh; do . "./$f"; done; exec python -c "$1"'
    proc = subprocess.run(
        ["sh", "-c", script, "sh", code],
        cwd=cwd or result.build_dir,
        env={"HOME": str(cwd or result.build_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_pip_basic(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    if not runtime_mirror.has("3.13"):
        pytest.skip("the test runtime mirror has no Python 3.13")
    result = compile_app("pip_basic").check()
    out = result.stdout
    latest = runtime_mirror.latest("3.13")
    assert "-----> Using Python 3.13 specified in .python-version" in out
    assert f"-----> Installing Python {latest}" in out
    assert "-----> Installing pip 26.3\n" in out
    assert "-----> Installing dependencies using 'pip install -r requirements.txt'" in out
    assert "Collecting typing-extensions==4.15.0 (from -r requirements.txt (line 5))" in out
    assert "Collecting pytest" not in out  # requirements-test.txt is only for bin/test-compile
    assert out.index("Installing dependencies") < out.index("PYTHONUNBUFFERED=1") < out.index("Saving cache")
    # post_compile ran from BUILD_DIR with the build environment, and the cwd is not on PATH
    python_home = result.build_dir / ".heroku" / "python"
    assert f"PATH={python_home}/bin:/usr/local/bin:/usr/bin:/bin\n" in out
    assert f"LD_LIBRARY_PATH={python_home}/lib\n" in out
    assert "PIP_DISABLE_PIP_VERSION_CHECK=1\n" in out
    assert "/app" not in out  # D7: nothing points at /app during the build
    report = result.report()
    assert report["package_manager"] == "pip"
    assert report["pip_version"] == "26.3"
    assert report["python_version"] == latest
    assert report["python_version_origin"] == ".python-version"
    assert report["post_compile_hook"] is True
    assert report["pre_compile_hook"] is False
    assert "failure_reason" not in report
    assert result.stderr.rstrip().endswith("PYBUILDPACK_INSTALLER=uv switches just the installer.")
    assert built_python(result, "import typing_extensions, sys; print(sys.version.split()[0])") == latest


def test_python_majors_install_the_latest_patch_of_the_mirror(
    compile_app: Compile, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    for major in ("3.10", "3.11", "3.12"):
        if not runtime_mirror.has(major):
            continue
        app = tmp_path / f"app-{major}"
        app.mkdir()
        (app / ".python-version").write_text(f"# Comments are supported\n{major}\n")
        (app / "requirements.txt").write_text("# TE\ntyping-extensions==4.15.0\n")
        (app / "Procfile").write_text("worker: python -c 'print(1)'\n")  # no default-web warning
        result = compile_app(app).check()
        latest = runtime_mirror.latest(major)
        assert f"-----> Installing Python {latest}" in result.stdout
        assert "Installing pip 26.3 and setuptools 70.3.0" in result.stdout
        if major == "3.10":
            assert "Warning:" in result.stderr and "3.10" in result.stderr
        else:
            assert "Warning:" not in result.stderr
        assert built_python(result, "import platform; print(platform.python_version())") == latest


def test_invalid_requirement_fails_with_pips_error(compile_app: Compile) -> None:
    result = compile_app("pip_invalid_requirement")
    assert result.returncode == 1
    assert "       ERROR: Invalid requirement: 'an-invalid-requirement!'" in result.stdout
    assert "Error: Could not install the dependencies with pip." in result.stderr
    assert result.report()["failure_reason"] == "install-dependencies::pip"


def test_requirement_includes_and_constraints(compile_app: Compile) -> None:
    result = compile_app("pip_requirements_includes").check()
    assert "typing-extensions==4.15.0" in result.stdout or "typing_extensions-4.15.0" in result.stdout
    assert built_python(result, "import six; print(six.__version__)") == "1.17.0"


@pytest.mark.parametrize(
    ("app", "shown"), [("setup_py_project", "setup.py"), ("pyproject_project", "pyproject.toml")]
)
def test_project_without_requirements_is_installed_itself(compile_app: Compile, app: str, shown: str) -> None:
    result = compile_app(app).check()
    assert "-----> Installing the project itself using 'pip install .'" in result.stdout
    assert shown in result.stdout
    module = app
    assert built_python(result, f"import {module}, typing_extensions; print({module}.hello())").startswith(
        "Hello"
    )
    assert result.report()["package_manager"] == "pip"


@pytest.mark.parametrize("app", ["pyproject_toml_only", "setup_py_only"])
def test_files_without_a_project_build_with_nothing_to_install(compile_app: Compile, app: str) -> None:
    # D1 (issue 10): an empty setup.py, or a pyproject.toml without [project]/[build-system]
    result = compile_app(app).check()
    assert "-----> No dependencies to install" in result.stdout
    assert "nothing to install" in result.stdout
    assert "pip install ." not in result.stdout
    assert result.report()["package_manager"] == "pip"


def test_pyproject_requires_python_picks_the_newest_matching_major(
    compile_app: Compile, runtime_mirror: RuntimeMirror
) -> None:
    result = compile_app("pyproject_project").check()
    assert (
        "-----> Using Python 3.12 specified in pyproject.toml (requires-python '==3.12.*')" in result.stdout
    )
    assert f"Installing Python {runtime_mirror.latest('3.12')}" in result.stdout
    assert result.report()["python_version_origin"] == "pyproject.toml"


def test_config_var_secrets_never_reach_the_log(compile_app: Compile, build_env: dict[str, Any]) -> None:
    index = build_env["PIP_INDEX_URL"].replace("http://", "http://deploy:s3cr3t-Passw0rd@")
    result = compile_app("pip_requirements_includes", config={"PIP_INDEX_URL": index}).check()
    assert "s3cr3t-Passw0rd" not in result.stdout + result.stderr
    assert "s3cr3t-Passw0rd" not in (result.build_dir / ".profile.d" / "python.sh").read_text()


def test_poisoned_environment_does_not_break_the_build(compile_app: Compile, tmp_path: Path) -> None:
    junk = tmp_path / "junk-bin"
    junk.mkdir()
    for tool in ("python", "python3", "pip", "pip3", "sh-not-really"):
        (junk / tool).write_text("#!/bin/sh\necho 'junk on PATH was used' >&2\nexit 3\n")
        (junk / tool).chmod(0o755)
    poison = {
        "PYTHONPATH": "/invalid",
        "PYTHONHOME": "/invalid",
        "VIRTUAL_ENV": "/invalid",
        "PATH": f"{junk}:/nonexistent:/usr/local/bin:/usr/bin:/bin",
    }
    result = compile_app("pip_requirements_includes", extra_env=poison).check()
    assert "junk on PATH was used" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("app", "major", "pip"),
    [
        ("eol_opt_in", "3.9", "26.0.1"),
        ("eol_opt_in_python_3.6", "3.6", "21.3.1"),
        ("eol_opt_in_runtime_txt_2.7", "2.7", "20.3.4"),
    ],
)
def test_end_of_life_python_builds_when_opted_in(
    compile_app: Compile, runtime_mirror: RuntimeMirror, app: str, major: str, pip: str
) -> None:
    if not runtime_mirror.has(major):
        pytest.skip(f"the test runtime mirror has no Python {major}")
    refused = compile_app(app)
    assert refused.returncode == 1
    assert "PYBUILDPACK_ALLOW_EOL_PYTHON" in refused.stderr
    assert refused.report()["failure_reason"] == "python-version::eol"

    result = compile_app(app, config={"PYBUILDPACK_ALLOW_EOL_PYTHON": "1"}).check()
    assert f"Installing Python {runtime_mirror.latest(major)}" in result.stdout
    assert f"Installing pip {pip}" in result.stdout
    assert "Warning:" in result.stderr
    version = built_python(result, "import sys; print('%d.%d' % sys.version_info[:2])")
    assert version == major


def test_test_compile_installs_the_test_requirements(
    compile_app: Compile, runtime_mirror: RuntimeMirror
) -> None:
    if not runtime_mirror.has("3.13"):
        pytest.skip("the test runtime mirror has no Python 3.13")
    result = compile_app("pip_basic", script="test-compile").check()
    shown = "-----> Installing dependencies using 'pip install -r requirements.txt -r requirements-test.txt'"
    assert shown in result.stdout
    # post_compile sees the CI variables bin/test-compile sets
    for line in ("INSTALL_TEST=1", "DISABLE_COLLECTSTATIC=1", "LC_ALL=C.UTF-8", "LANG=en_US.UTF-8"):
        assert f"{line}\n" in result.stdout
    assert built_python(result, "import pytest; print(pytest.__version__)") == "9.2.0"


def test_debug_setting_shows_each_command_the_build_ran(compile_app: Compile) -> None:
    result = compile_app(
        "pip_basic", config={"PYBUILDPACK_DEBUG": "1", "SOME_SECRET": "s3cr3t-value"}
    ).check()
    debug = [line for line in result.stdout.splitlines() if line.startswith("       [debug] ")]
    commands = [line for line in debug if line.startswith("       [debug] $ ")]
    assert any(" -m pip install " in line and "-r requirements.txt" in line for line in commands), debug
    assert len([line for line in debug if " exit " in line and " after " in line]) == len(commands)
    assert all(line.startswith("       ") for line in result.stdout.splitlines() if "import sys" in line)
    assert not any("s3cr3t-value" in line for line in debug)  # (the fixture's post_compile prints env)
