"""Stack, duplicate-run, existing Python and committed-venv checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pybuildpack import checks
from pybuildpack.errors import BuildError
from support import FIXTURE_APPS


def text(error: BuildError) -> str:
    return "\n".join(error.lines())


def os_release(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "os-release"
    path.write_text(content, encoding="utf-8")
    return path


DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


# --- stack ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", sorted(checks.KNOWN_STACKS))
def test_known_stacks(tmp_path: Path, stack: str) -> None:
    assert checks.resolve_stack({"STACK": stack}, tmp_path / "missing") == stack


@pytest.mark.parametrize("stack", ["heroku-16", "heroku-18", "heroku-20", "cedar", "cedar-14", "scalingo-20"])
def test_eol_stacks(tmp_path: Path, stack: str) -> None:
    with pytest.raises(BuildError) as caught:
        checks.resolve_stack({"STACK": stack}, os_release(tmp_path, DEBIAN))
    assert caught.value.failure_reason == "checks::stack::eol"
    assert f"'{stack}'" in text(caught.value)
    assert "Upgrade" in text(caught.value)


def test_unknown_stack_quotes_the_value(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        checks.resolve_stack({"STACK": "foo\x07"}, os_release(tmp_path, DEBIAN))
    assert caught.value.failure_reason == "checks::stack::unknown"
    assert "'foo\\u0007'" in text(caught.value)


def test_stack_from_os_release(tmp_path: Path) -> None:
    assert checks.resolve_stack({}, os_release(tmp_path, DEBIAN)) == "debian-12"
    assert checks.resolve_stack({"STACK": ""}, os_release(tmp_path, DEBIAN)) == "debian-12"


def test_stack_set_to_the_host_name_is_accepted(tmp_path: Path) -> None:
    assert checks.resolve_stack({"STACK": "debian-12"}, os_release(tmp_path, DEBIAN)) == "debian-12"


def test_stack_from_single_quoted_and_rolling_os_release(tmp_path: Path) -> None:
    ubuntu = os_release(tmp_path, "ID='ubuntu'\nVERSION_ID='24.04'\n")
    assert checks.resolve_stack({}, ubuntu) == "ubuntu-24.04"
    assert checks.resolve_stack({}, os_release(tmp_path, "ID=arch\nBUILD_ID=rolling\n")) == "arch"


def test_stack_missing_everywhere(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        checks.resolve_stack({}, tmp_path / "missing")
    assert "STACK" in caught.value.headline
    with pytest.raises(BuildError):
        checks.resolve_stack({}, os_release(tmp_path, "NAME=nothing useful\n"))


def test_real_host_os_release() -> None:
    host = Path("/etc/os-release")
    if not host.exists():
        pytest.skip("no /etc/os-release on this machine")
    stack = checks.resolve_stack({})
    assert stack == checks.os_release_stack(host)


# --- duplicate run --------------------------------------------------------------------------------------


def make_python(build_dir: Path) -> None:
    python = build_dir / ".heroku/python/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")


def test_duplicate_run(tmp_path: Path) -> None:
    make_python(tmp_path)
    with pytest.raises(BuildError) as caught:
        checks.check_duplicate_run(tmp_path, {"PYTHONHOME": str(tmp_path / ".heroku/python")})
    assert caught.value.failure_reason == "checks::duplicate-python-buildpack"
    assert "duplicate" in text(caught.value)


def test_duplicate_run_needs_both_conditions(tmp_path: Path) -> None:
    checks.check_duplicate_run(tmp_path, {"PYTHONHOME": "/somewhere"})
    make_python(tmp_path)
    checks.check_duplicate_run(tmp_path, {})


def test_python_in_app_source_fixture_is_quiet_for_duplicate_check() -> None:
    checks.check_duplicate_run(FIXTURE_APPS / "python_in_app_source", {"PATH": "/usr/bin"})


# --- existing .heroku/python ----------------------------------------------------------------------------


def test_python_in_app_source_fixture() -> None:
    with pytest.raises(BuildError) as caught:
        checks.check_no_python_dir(FIXTURE_APPS / "python_in_app_source")
    error = caught.value
    assert error.failure_reason == "checks::existing-python-dir"
    message = text(error)
    assert "\n.heroku/python/\n.heroku/python/bin\n.heroku/python/bin/python\n" in message
    assert "pre_compile" in message
    assert "earlier buildpack" in message


def test_existing_python_dir_listing_stops_at_depth_two(tmp_path: Path) -> None:
    deep = tmp_path / ".heroku/python/lib/python3.13/site-packages"
    deep.mkdir(parents=True)
    (tmp_path / ".heroku/python/README").write_text("")
    with pytest.raises(BuildError) as caught:
        checks.check_no_python_dir(tmp_path)
    message = text(caught.value)
    assert ".heroku/python/lib/python3.13\n" in message
    assert "site-packages" not in message
    assert ".heroku/python/README" in message


@pytest.mark.parametrize("kind", ["file", "broken-symlink"])
def test_existing_python_path_of_any_type(tmp_path: Path, kind: str) -> None:
    (tmp_path / ".heroku").mkdir()
    target = tmp_path / ".heroku/python"
    if kind == "file":
        target.write_text("")
    else:
        target.symlink_to(tmp_path / "missing")
    with pytest.raises(BuildError) as caught:
        checks.check_no_python_dir(tmp_path)
    assert caught.value.failure_reason == "checks::existing-python-dir"


def test_no_python_dir_passes(tmp_path: Path) -> None:
    (tmp_path / ".heroku").mkdir()
    checks.check_no_python_dir(tmp_path)


# --- committed venv -------------------------------------------------------------------------------------


def test_venv_in_app_source_fixture() -> None:
    with pytest.raises(BuildError) as caught:
        checks.check_no_venv(FIXTURE_APPS / "venv_in_app_source")
    error = caught.value
    assert error.failure_reason == "checks::existing-venv-dir"
    assert error.failure_detail == ".venv"
    message = text(error)
    assert "\n.venv/\n.venv/bin\n.venv/bin/python\n.venv/pyvenv.cfg\n" in message
    assert "git rm --cached -r .venv/" in message
    assert ".gitignore" in message
    assert "commit" in message


def test_plain_venv_dir(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_APPS / "venv_in_app_source" / ".venv", tmp_path / "venv")
    with pytest.raises(BuildError) as caught:
        checks.check_no_venv(tmp_path)
    assert caught.value.failure_detail == "venv"
    assert "git rm --cached -r venv/" in text(caught.value)


def test_dot_venv_checked_first(tmp_path: Path) -> None:
    for name in ("venv", ".venv"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyvenv.cfg").write_text("")
    with pytest.raises(BuildError) as caught:
        checks.check_no_venv(tmp_path)
    assert caught.value.failure_detail == ".venv"


def test_venv_dir_without_pyvenv_cfg_passes(tmp_path: Path) -> None:
    (tmp_path / ".venv/bin").mkdir(parents=True)
    (tmp_path / "venv").mkdir()
    checks.check_no_venv(tmp_path)
