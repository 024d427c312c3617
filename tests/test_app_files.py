"""App files are untrusted (issue 10.2, 10.3): FIFOs, devices, links leading outside the app, huge or
deeply nested files and numbers beyond Python's int-string limit give a clear, bounded BuildError."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pybuildpack import app, appfile, procfile
from pybuildpack import python_version as pv
from pybuildpack.errors import BuildError, cut_list, quoted
from pybuildpack.output import Console
from pybuildpack.package_managers import registry
from pybuildpack.requirements import requirement_files
from pybuildpack.runtime.manifest import parse_manifest
from pybuildpack.steps.hooks import run_hook
from pybuildpack.steps.nltk import read_nltk_txt
from support.fuzz import AVAILABLE, assert_bounded


def rules(manager: str) -> pv.PythonRules:
    """The Python-version rules a manager declares in its SPEC."""
    return registry.spec(manager).python

HUGE = "1" * 4400  # beyond Python's int-string limit (4,300 digits)


def read_version(app_dir: Path, manager: str = "pip") -> pv.RequestedPython:
    return pv.read_requested(
        app_dir, manager=rules(manager), cached_version_file=app_dir / "no-cache", available=AVAILABLE
    )


def version_error(app_dir: Path, manager: str = "pip") -> BuildError:
    with pytest.raises(BuildError) as caught:
        read_version(app_dir, manager)
    assert_bounded(caught.value)
    return caught.value


def text_of(error: BuildError) -> str:
    return "\n".join(error.lines())


@contextmanager
def fifo(path: Path) -> Iterator[Path]:
    """A FIFO at `path`. A writer thread waits on it, so a reader that wrongly opens it gets
    end-of-file instead of hanging the test (and then fails the assertions on the message)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    writer = threading.Thread(target=lambda: os.close(os.open(path, os.O_WRONLY)), daemon=True)
    writer.start()
    try:
        yield path
    finally:
        # release the writer if nothing opened the FIFO for reading (the expected case): with a reader
        # open, its open() returns whether it is already waiting or not yet started
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        writer.join()
        os.close(reader)


# --------------------------------------------------------------------------------------------------
# What a file is


@pytest.mark.parametrize("name", [".python-version", "runtime.txt"])
def test_fifo_version_file_is_refused(tmp_path: Path, name: str) -> None:
    with fifo(tmp_path / name):
        error = version_error(tmp_path)
    assert error.headline == f"'{name}' is a named pipe (FIFO), not a regular file."


def test_fifo_pyproject_is_refused_by_version_reading_and_manager_selection(tmp_path: Path) -> None:
    with fifo(tmp_path / "pyproject.toml"):
        assert "named pipe" in version_error(tmp_path).headline
        with pytest.raises(BuildError) as caught:
            app.select_manager(tmp_path)
    # manager selection only counts regular files, so it never opens the FIFO
    assert caught.value.failure_reason == "package-manager::none-found"


def test_fifo_include_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\n-r more/extra.txt\n")
    with fifo(tmp_path / "more" / "extra.txt"), pytest.raises(BuildError) as caught:
        requirement_files(tmp_path / "requirements.txt")
    assert caught.value.headline == "'more/extra.txt' is a named pipe (FIFO), not a regular file."


def test_fifo_procfile_is_refused(tmp_path: Path) -> None:
    with fifo(tmp_path / "Procfile"), pytest.raises(BuildError) as caught:
        procfile.read_procfile(tmp_path)
    assert "named pipe" in caught.value.headline


def test_directory_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "runtime.txt").mkdir()
    assert version_error(tmp_path).headline == "'runtime.txt' is a directory, not a regular file."


@pytest.mark.parametrize("target", ["/etc/shadow", "/etc/passwd", "/proc/self/environ"])
def test_link_to_a_host_file_is_refused_without_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    monkeypatch.setenv("PYBUILDPACK_TEST_SECRET", "hunter2-environ")
    (tmp_path / ".python-version").symlink_to(target)
    error = version_error(tmp_path)
    assert error.headline == "'.python-version' leads outside the app."
    assert os.path.realpath(target) in text_of(error)  # where the link leads, never what the file holds
    assert "hunter2" not in text_of(error)
    assert "root:" not in text_of(error)


@pytest.mark.parametrize("name", [".python-version", "Pipfile.lock"])
def test_dev_zero_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).symlink_to("/dev/zero")
    (tmp_path / "Pipfile").write_text("")
    assert "leads outside the app" in version_error(tmp_path, manager="pipenv").headline


def test_dev_zero_include_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r zero.txt\n")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    with pytest.raises(BuildError) as caught:
        requirement_files(tmp_path / "requirements.txt")
    assert caught.value.headline == "'zero.txt' leads outside the app."


def test_link_inside_the_app_is_followed(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "python-version").write_text("3.13\n")
    (tmp_path / ".python-version").symlink_to("config/python-version")
    assert read_version(tmp_path).text == "3.13"


def test_link_loop_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".python-version").symlink_to(".python-version")
    assert "loops" in text_of(version_error(tmp_path))


# --------------------------------------------------------------------------------------------------
# Includes


def test_fan_out_includes_visit_each_file_once(tmp_path: Path) -> None:
    for name in "abcdefgh":
        (tmp_path / name).mkdir()
    lines = "".join(f"-r {name}/../requirements.txt\n-c {name}/../c.txt\n" for name in "abcdefgh")
    (tmp_path / "requirements.txt").write_text(f"flask\n{lines}")
    (tmp_path / "c.txt").write_text(lines)
    assert requirement_files(tmp_path / "requirements.txt") == [
        tmp_path / "requirements.txt",
        tmp_path / "a" / ".." / "c.txt",
    ]


@pytest.mark.parametrize("include", ["../outside.txt", "/etc/passwd", "sub/../../outside.txt"])
def test_include_outside_the_app_is_refused(tmp_path: Path, include: str) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (tmp_path / "outside.txt").write_text("secret-package==1\n")
    (app_dir / "sub").mkdir()
    (app_dir / "requirements.txt").write_text(f"-r {include}\n")
    with pytest.raises(BuildError) as caught:
        requirement_files(app_dir / "requirements.txt")
    assert "leads outside the app" in caught.value.headline
    assert "secret-package" not in text_of(caught.value)


def test_missing_include_is_listed_for_the_installer_to_report(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r missing.txt\n")
    assert requirement_files(tmp_path / "requirements.txt")[-1] == tmp_path / "missing.txt"


# --------------------------------------------------------------------------------------------------
# Numbers beyond the int-string limit, deep nesting, size


@pytest.mark.parametrize("content", [f"3.{HUGE}\n", f"{HUGE}.12\n", f"3.12.{HUGE}\n"])
def test_huge_number_in_python_version(tmp_path: Path, content: str) -> None:
    (tmp_path / ".python-version").write_text(content)
    assert version_error(tmp_path).failure_reason == "python-version-file::invalid-version"


def test_huge_number_in_runtime_txt(tmp_path: Path) -> None:
    (tmp_path / "runtime.txt").write_text(f"python-3.{HUGE}\n")
    assert version_error(tmp_path).failure_reason == "runtime-txt::invalid-version"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (HUGE, "pipfile-lock::invalid-json"),
        (f'"3.{HUGE}"', "pipfile-lock::invalid-version"),
        ("[" * 100_000 + "]" * 100_000, "pipfile-lock::invalid-json"),
        ("[" * 500 + "]" * 500, "pipfile-lock::invalid-version"),
    ],
)
def test_hostile_pipfile_lock(tmp_path: Path, value: str, reason: str) -> None:
    (tmp_path / "Pipfile.lock").write_text(f'{{"_meta": {{"requires": {{"python_version": {value}}}}}}}')
    assert version_error(tmp_path, manager="pipenv").failure_reason == reason


def test_deeply_nested_pipfile_lock(tmp_path: Path) -> None:
    (tmp_path / "Pipfile.lock").write_text("[" * 200_000)
    error = version_error(tmp_path, manager="pipenv")
    assert error.failure_reason == "pipfile-lock::invalid-json"
    assert "nested too deeply" in text_of(error)


def test_huge_number_in_pipfile_lock_is_explained(tmp_path: Path) -> None:
    (tmp_path / "Pipfile.lock").write_text(f'{{"_meta": {{"hash": {HUGE}}}}}')
    error = version_error(tmp_path, manager="pipenv")
    assert "Pipfile.lock is not valid JSON: it holds a number with more than 4,300 digits." in text_of(error)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (HUGE, "pyproject-toml::invalid-toml"),
        (f'">=3.{HUGE}"', "pyproject-toml::invalid-requires-python"),
        ("[" * 5000 + "]" * 5000, "pyproject-toml::invalid-requires-python"),
        ("1979-05-27", "pyproject-toml::invalid-requires-python"),
    ],
)
def test_hostile_requires_python(tmp_path: Path, value: str, reason: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\nrequires-python = {value}\n")
    assert version_error(tmp_path).failure_reason in {reason, "pyproject-toml::invalid-toml"}


def test_deeply_nested_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("x = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n")
    assert version_error(tmp_path).failure_reason == "pyproject-toml::invalid-toml"
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert caught.value.failure_reason == "package-manager::invalid-pyproject-toml"


def test_huge_number_in_pyproject_for_manager_selection(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.x]\nn = {HUGE}\n")
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert caught.value.failure_reason == "package-manager::invalid-pyproject-toml"
    assert "a number with more than 4,300 digits" in text_of(caught.value)
    assert_bounded(caught.value)


def test_ten_megabyte_python_version_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3" * 10_000_000)
    error = version_error(tmp_path)
    assert error.headline == "'.python-version' is too large (10,000,000 bytes or more)."
    assert len(text_of(error)) < 1000


def test_two_million_version_lines_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n" * 2_000_000)
    assert "too large" in version_error(tmp_path).headline


def test_many_version_lines_are_cut(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n" * 800)  # under the size limit
    error = version_error(tmp_path)
    assert error.failure_reason == "python-version-file::multiple-versions"
    assert "... and 790 more" in text_of(error)


def test_long_invalid_version_line_is_cut(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12" + "x" * 4000)
    error = version_error(tmp_path)
    assert "(3,884 more characters not shown)" in error.headline


def test_ten_megabyte_procfile_line(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web " + "x" * 10_000_000 + "\n")
    with pytest.raises(BuildError) as caught:
        procfile.read_procfile(tmp_path)
    assert "too large" in caught.value.headline
    assert_bounded(caught.value)


def test_long_procfile_line_is_quoted_cut(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web " + "x" * 500_000 + "\n")
    with pytest.raises(BuildError) as caught:
        procfile.read_procfile(tmp_path)
    assert caught.value.failure_reason == "procfile::invalid-line"
    assert "more characters not shown" in text_of(caught.value)
    assert_bounded(caught.value)


@pytest.mark.parametrize("count", [procfile.MAX_TYPES + 1, 300_000])
def test_too_many_process_types(tmp_path: Path, count: int) -> None:
    (tmp_path / "Procfile").write_text("".join(f"p{number}: run\n" for number in range(count)))
    with pytest.raises(BuildError) as caught:
        procfile.read_procfile(tmp_path)
    assert caught.value.failure_reason in {"procfile::too-many-types", "procfile::unreadable"}
    assert_bounded(caught.value)


def test_max_process_types_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("".join(f"p{number}: run\n" for number in range(procfile.MAX_TYPES)))
    assert len(procfile.read_procfile(tmp_path)) == procfile.MAX_TYPES


def test_one_and_a_half_megabyte_requires_python(tmp_path: Path) -> None:
    value = ">=3.12," * 200_000 + "<3.14"
    (tmp_path / "pyproject.toml").write_text(f'[project]\nrequires-python = "{value}"\n')
    assert read_version(tmp_path).major_text == "3.13"  # valid, only long
    (tmp_path / "pyproject.toml").write_text(f'[project]\nrequires-python = "{value}x"\n')
    error = version_error(tmp_path)
    assert error.failure_reason == "pyproject-toml::invalid-requires-python"
    assert len(text_of(error)) < 2000


# --------------------------------------------------------------------------------------------------
# Hooks


def test_hook_linked_outside_the_app_is_neither_changed_nor_run(tmp_path: Path) -> None:
    outside = tmp_path / "host-script"
    outside.write_text("#!/bin/sh\necho ran > ran.txt\n")
    outside.chmod(0o644)
    build_dir = tmp_path / "build"
    (build_dir / "bin").mkdir(parents=True)
    (build_dir / "bin" / "pre_compile").symlink_to(outside)
    console = Console(out=io.StringIO(), err=io.StringIO(), environ={})
    with pytest.raises(BuildError) as caught:
        run_hook("pre_compile", build_dir, {"PATH": "/usr/bin:/bin"}, console)
    assert caught.value.headline == "'bin/pre_compile' leads outside the app."
    assert caught.value.failure_reason == "hooks::pre_compile"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert not (build_dir / "ran.txt").exists()


# --------------------------------------------------------------------------------------------------
# The helpers


def test_quoted_cuts_and_counts() -> None:
    assert quoted("3.12") == "'3.12'"
    assert quoted("a" * 1000) == "'" + "a" * 120 + "...' (880 more characters not shown)"
    assert quoted("\0" * 200, limit=10) == "'" + "\u2400" * 10 + "...' (190 more characters not shown)"
    assert quoted("\x1b" * 30) == "'" + "\\u001b" * 20 + "...' (10 more characters not shown)"


def test_cut_list() -> None:
    assert cut_list(["a", "b"]) == ["a", "b"]
    assert cut_list(str(n) for n in range(15)) == [*map(str, range(10)), "... and 5 more"]


def test_error_block_safety_net() -> None:
    error = BuildError("x" * 5000, "\n".join(f"line {number}" for number in range(100)), "fix")
    lines = error.lines()
    assert len(lines) == 1 + 1 + 23 + 1 + 1
    assert lines[0].endswith("(4,707 more characters not shown)")
    assert lines[2:4] == ["line 0", "line 1"]
    assert lines[12:15] == ["line 10", "... (78 more lines not shown)", "line 89"]
    assert lines[24] == "line 99"
    assert BuildError("h", failure_detail="d" * 1000).failure_detail == "d" * 200


def test_size_limit_is_exact(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert appfile.read_app_file(tmp_path, tmp_path / "f", limit=10, failure_reason="r") == b"x" * 10
    with pytest.raises(BuildError, match="too large"):
        appfile.read_app_file(tmp_path, tmp_path / "f", limit=9, failure_reason="r")


# --------------------------------------------------------------------------------------------------
# Findings in runtime/manifest.py (issue 10): hostile manifests are clear errors, not tracebacks.

MANIFEST_FINDINGS = [
    pytest.param(b'{"schema": 1, "runtimes": [{"size": ' + HUGE.encode() + b"}]}", id="int-string-limit"),
    pytest.param(b"[" * 100_000, id="deep-nesting"),
    pytest.param(
        json.dumps(
            {
                "schema": 1,
                "runtimes": [
                    {
                        "implementation": "cpython",
                        "version": "3.12.1",
                        "platform": "linux-x86_64-gnu",
                        "sha256": "0" * 64,
                        "layout": "prefix",
                        "url": "http://[::1/x.tar.gz",
                    }
                ],
            }
        ).encode(),
        id="bad-ipv6-url",
    ),
]


@pytest.mark.parametrize("data", MANIFEST_FINDINGS)
def test_manifest_findings(data: bytes) -> None:
    with pytest.raises(BuildError):
        parse_manifest(data, location="manifest.json", base_url="file:///srv/manifest.json")


def test_nltk_txt_linked_outside_the_app_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nltk.txt").symlink_to("/etc/passwd")
    with pytest.raises(BuildError) as caught:
        read_nltk_txt(tmp_path)
    assert caught.value.headline == "'nltk.txt' leads outside the app."
    assert "root" not in text_of(caught.value)


def test_fifo_sticky_version_in_the_cache_is_ignored(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    with fifo(tmp_path / "cache" / "python-version") as sticky:
        requested = pv.read_requested(
            app_dir, manager=rules("pip"), cached_version_file=sticky, available=AVAILABLE
        )
    assert requested.origin == "default"
