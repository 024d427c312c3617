"""Scenario fixtures through the real classic API: exit status, failure_reason, and the facts conveyed.

These fail before any runtime is installed, so they are fast; each still runs the real `bin/detect`
or `bin/compile` shims with a platform-like environment, and `bin/report` afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support import FIXTURE_APPS, REPO
from support.buildpack import CompileResult

Compile = Callable[..., CompileResult]

# fixture -> (failure_reason, failure_detail or None, facts that must appear in stderr)
FAILURES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "multiple_package_managers": (
        "package-manager::multiple-found",
        "pipenv,pip,poetry,uv",
        ("Pipfile.lock (Pipenv)", "requirements.txt (pip)", "poetry.lock (Poetry)", "uv.lock (uv)"),
    ),
    "python_in_app_source": (
        "checks::existing-python-dir",
        None,
        (".heroku/python/", ".heroku/python/bin", ".heroku/python/bin/python"),
    ),
    "venv_in_app_source": (
        "checks::existing-venv-dir",
        ".venv",
        (".venv/pyvenv.cfg", "git rm --cached -r .venv/", ".gitignore"),
    ),
    "python_version_eol": (
        "python-version::eol",
        "3.9",
        ("3.9", ".python-version", "PYBUILDPACK_ALLOW_EOL_PYTHON"),
    ),
    "runtime_txt_eol_version": ("python-version::eol", None, ("2.7.18", "runtime.txt")),
    "python_version_non_existent_major": (
        "python-version::unknown-major",
        None,
        ("3.999", ".python-version"),
    ),
    "python_version_non_existent_patch": (
        "python-version::unknown-patch",
        None,
        ("3.12.999", ".python-version"),
    ),
    "python_version_file_invalid_version": (
        "python-version-file::invalid-version",
        None,
        (".python-version", "\\u200bpython -\\u0009\\u00a03.12.0\\u001b[0m"),
    ),
    "python_version_file_misspelled": (
        "python-version-file::misspelled",
        ".python-version ",
        ("'.python-version '",),
    ),
    "python_version_file_multiple_versions": (
        "python-version-file::multiple-versions",
        "3.12,2.7",
        ("3.12", "2.7"),
    ),
    "python_version_file_no_version": ("python-version-file::no-version", None, (".python-version", "#")),
    "python_version_file_unsupported_encoding": (
        "python-version-file::invalid-encoding",
        None,
        (".python-version", "BOM"),
    ),
    "runtime_txt_invalid_version": ("runtime-txt::invalid-version", None, ("runtime.txt", ".python-version")),
    "pipenv_lockfile_invalid_json": ("pipfile-lock::invalid-json", None, ("Pipfile.lock", "pipenv lock")),
    "pipenv_python_full_version_invalid": ("pipfile-lock::invalid-version", None, ("'3.9.*'",)),
    "pipenv_python_version_invalid": ("pipfile-lock::invalid-version", None, ("'^3.12'",)),
    "pipenv_python_version_eol": ("python-version::eol", None, ("3.8", "Pipfile.lock")),
    "uv_runtime_txt": ("runtime-txt::not-supported", None, ("runtime.txt", "uv python pin 3.11")),
    "requires_python_pip_invalid": (
        "pyproject-toml::invalid-requires-python",
        None,
        ("pyproject.toml", "=>3.12"),
    ),
    "requires_python_pip_eol": ("python-version::eol", None, ("pyproject.toml",)),
    "requires_python_pip_invalid_toml": ("pyproject-toml::invalid-toml", None, ("pyproject.toml",)),
    "hooks_pre_compile_fail": ("hooks::pre_compile", None, ("bin/pre_compile",)),
    "python_version_eol_cached": ("python-version::eol", None, ("3.9",)),
    "python_version_non_existent_major_cached": ("python-version::unknown-major", None, ("3.99",)),
}


@pytest.mark.parametrize("fixture", sorted(FAILURES))
def test_failing_scenario(compile_app: Compile, fixture: str) -> None:
    reason, detail, facts = FAILURES[fixture]
    result = compile_app(fixture)
    assert result.returncode == 1, result.describe()
    assert " !     Error: " in result.stderr, result.describe()
    assert "Traceback" not in result.stderr
    for fact in facts:
        assert fact in result.stderr, f"{fact!r} missing\n{result.describe()}"
    assert not (result.build_dir / ".heroku" / "python").exists() or fixture == "python_in_app_source"
    report = result.report()
    assert report["failure_reason"] == reason
    if detail is not None:
        assert report["failure_detail"] == detail


def test_version_step_comes_before_the_version_error(compile_app: Compile) -> None:
    result = compile_app("python_version_eol")
    assert "-----> Using Python 3.9 specified in .python-version" in result.stdout
    assert "Installing Python" not in result.stdout


def detect(app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(REPO / "bin" / "detect"), str(app)],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("fixture", ["no_python_project_files", "empty"])
def test_detect_fails_with_a_listing(fixture: str) -> None:
    result = detect(FIXTURE_APPS / fixture)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "requirements.txt" in result.stderr
    listing = [".example-dotfile", "README.md", "subdir/"] if fixture != "empty" else [".gitkeep"]
    for name in listing:
        assert f" !     {name}\n" in result.stderr or f"  {name}\n" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "fixture", ["pip_basic", "pyproject_toml_only", "setup_py_only", "venv_in_app_source"]
)
def test_detect_passes(fixture: str) -> None:
    result = detect(FIXTURE_APPS / fixture)
    assert (result.returncode, result.stdout) == (0, "Python\n")


@pytest.mark.parametrize(
    ("stack", "reason"),
    [
        ("heroku-20", "checks::stack::eol"),
        ("cedar-14", "checks::stack::eol"),
        ("foo", "checks::stack::unknown"),
    ],
)
def test_unsupported_stack(compile_app: Compile, stack: str, reason: str) -> None:
    result = compile_app("procfile", extra_env={"STACK": stack})
    assert result.returncode == 1
    assert stack in result.stderr
    assert result.report()["failure_reason"] == reason


def test_release_prints_yaml_without_process_types(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(REPO / "bin" / "release"), str(FIXTURE_APPS / "procfile")],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("---")
    assert "default_process_types" not in result.stdout


def test_report_without_any_build_prints_an_empty_object(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(REPO / "bin" / "report"), str(tmp_path), str(tmp_path / "cache"), str(tmp_path)],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "{}")


@pytest.mark.parametrize("host_python", ["/nonexistent/python3", "/bin/false"])
def test_shim_without_a_usable_host_python_says_what_it_looked_for(tmp_path: Path, host_python: str) -> None:
    result = subprocess.run(
        ["/bin/sh", str(REPO / "bin" / "compile"), str(tmp_path), str(tmp_path), str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "PYBUILDPACK_HOST_PYTHON": host_python},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Python 3.11 or newer" in result.stderr
    assert f"PYBUILDPACK_HOST_PYTHON={host_python}" in result.stderr
