"""Django collectstatic (CONTRACT §10, SCENARIOS §7), through the real ``bin/compile`` with Django
installed from the local index, plus the pure helpers (manage.py search, switches, failure reasons).
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybuildpack.steps.collectstatic import failure_reason, find_manage_py, switched_on
from support.buildpack import CompileResult, app_source

Compile = Callable[..., CompileResult]

CATEGORIES = {
    "collectstatic-syntax-error",
    "collectstatic-improper-configuration",
    "collectstatic-fancy-references",
    "collectstatic-missing-file",
    "collectstatic-other",
}
INVALID = "/invalid-path"


def _printed(stdout: str, header: str) -> Any:
    """A value the fixture's settings pprint()ed after ``header``, read back from the indented log."""
    lines = stdout.split("\n")
    start = lines.index(f"       {header}") + 1
    chunk: list[str] = []
    for line in lines[start:]:
        text = line[7:]
        chunk.append(text)
        try:
            return ast.literal_eval("\n".join(chunk))
        except SyntaxError:
            continue
    raise AssertionError(f"no complete value after {header!r} in:\n{stdout}")


def _assert_failed_at_collectstatic(result: CompileResult) -> dict[str, Any]:
    assert result.returncode == 1, result.describe()
    assert "Error: Unable to generate Django static files" in result.stderr
    assert "DISABLE_COLLECTSTATIC=1" in result.stderr
    assert "traceback" in result.stderr
    assert "Saving cache" not in result.stdout
    report = result.report()
    assert report["failure_reason"] in CATEGORIES
    assert "django_collectstatic" not in report
    assert isinstance(report["django_collectstatic_duration"], float)
    return report


# --- builds that run collectstatic ------------------------------------------------------------------


def test_latest_django(compile_app: Compile) -> None:
    result = compile_app("django_staticfiles_latest_django", config={"EXPECTED_ENV_VAR": "1"}).check()
    build = str(result.build_dir)
    out = result.stdout
    step = "-----> $ python backend/manage.py collectstatic --noinput\n"
    assert step in out
    assert out.index("Successfully installed") < out.index(step) < out.index("-----> Saving cache")
    # Django's own line, then one (indented) empty line before the next step.
    copied = f"       1 static file copied to '{build}/backend/staticfiles'.\n"
    assert f"{copied}       \n-----> " in out, result.describe()
    assert (result.build_dir / "backend" / "staticfiles" / "robots.txt").is_file()

    env = _printed(out, "Environment seen by the Django settings:")
    assert env["EXPECTED_ENV_VAR"] == "1"
    assert env["PYTHONPATH"] == "."
    assert env["PWD"] == build
    assert env["BUILD_DIR"] == build
    assert env["CACHE_DIR"] == str(result.cache_dir)
    assert env["ENV_DIR"] == str(result.env_dir)
    assert env["PATH"].startswith(f"{build}/.heroku/python/bin:")
    assert "PYTHONHOME" not in env
    sys_path = _printed(out, "sys.path:")
    assert sys_path[:2] == [f"{build}/backend", build]

    report = result.report()
    assert report["django_collectstatic"] == "enabled"
    assert isinstance(report["django_collectstatic_duration"], float)


def test_legacy_django(compile_app: Compile, runtime_mirror: Any) -> None:
    if not runtime_mirror.has("3.10"):
        pytest.skip("the test runtime mirror has no Python 3.10")
    names = ("BUILD_DIR", "C_INCLUDE_PATH", "CACHE_DIR", "CPLUS_INCLUDE_PATH", "ENV_DIR", "LD_LIBRARY_PATH")
    names += ("LIBRARY_PATH", "PATH", "PKG_CONFIG_PATH", "PYTHONHOME", "PYTHONPATH")
    hostile = dict.fromkeys(names, INVALID)
    result = compile_app("django_staticfiles_legacy_django", config={**hostile, "EXPECTED_ENV_VAR": "1"})
    result.check()
    build = str(result.build_dir)
    out = result.stdout
    assert "Django-2.1.15" in out or "Django==2.1.15" in out or "django-2.1.15" in out.lower()
    assert "-----> $ python manage.py collectstatic --noinput\n" in out
    assert f"       1 static file copied to '{build}/staticfiles'.\n" in out

    env = _printed(out, "Environment seen by the Django settings:")
    # The user's values win inside collectstatic ...
    for name in ("BUILD_DIR", "CACHE_DIR", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "ENV_DIR"):
        assert env[name] == INVALID, name
    assert env["PKG_CONFIG_PATH"] == INVALID
    assert env["PYTHONPATH"] == INVALID
    # ... except those that would break the build tools.
    assert env["PATH"].startswith(f"{build}/.heroku/python/bin:")
    assert env["LD_LIBRARY_PATH"].startswith(f"{build}/.heroku/python/lib")
    assert env["LIBRARY_PATH"].startswith(f"{build}/.heroku/python/lib")
    assert "PYTHONHOME" not in env
    sys_path = _printed(out, "sys.path:")
    assert sys_path[:2] == [build, INVALID]
    assert sys_path[2].endswith("/lib/python310.zip")
    assert result.report()["django_collectstatic"] == "enabled"


def test_no_manage_py(compile_app: Compile) -> None:
    result = compile_app("django_no_manage_py").check()
    assert "-----> Skipping Django collectstatic since no 'manage.py' was found" in result.stdout
    assert "collectstatic --noinput" not in result.stdout
    report = result.report()
    assert report["django_collectstatic"] == "skipped-no-manage-py"
    assert "django_collectstatic_duration" not in report


def test_disabled_file(compile_app: Compile) -> None:
    result = compile_app("django_collectstatic_disabled_file").check()
    assert (
        "-----> Skipping Django collectstatic since the file '.heroku/collectstatic_disabled' exists."
        in result.stdout
    )
    assert "collectstatic --noinput" not in result.stdout
    warning = result.stderr
    assert " !     Warning: The '.heroku/collectstatic_disabled' file is deprecated." in warning
    assert "DISABLE_COLLECTSTATIC=1" in warning
    assert result.report()["django_collectstatic"] == "disabled-file"


def test_invalid_settings_module_fails(compile_app: Compile) -> None:
    result = compile_app("django_invalid_settings_module")
    out = result.stdout
    assert "-----> $ python manage.py collectstatic --noinput\n" in out
    last_line = "       ModuleNotFoundError: No module named 'nonexistent-module'\n       \n"
    assert last_line in out, result.describe()
    _assert_failed_at_collectstatic(result)


def test_invalid_settings_module_disabled_by_config_var(compile_app: Compile) -> None:
    result = compile_app("django_invalid_settings_module", config={"DISABLE_COLLECTSTATIC": "1"}).check()
    assert "-----> Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set." in result.stdout
    assert "collectstatic --noinput" not in result.stdout
    report = result.report()
    assert report["django_collectstatic"] == "disabled-env-var"


def test_disable_collectstatic_zero_does_not_disable(compile_app: Compile) -> None:
    # A config var of 0 wins over the operator's process env, and 0 means "not disabled".
    result = compile_app(
        "django_invalid_settings_module",
        config={"DISABLE_COLLECTSTATIC": "0"},
        extra_env={"DISABLE_COLLECTSTATIC": "1"},
    )
    assert "-----> $ python manage.py collectstatic --noinput\n" in result.stdout
    _assert_failed_at_collectstatic(result)


def test_test_compile_skips_even_without_django(compile_app: Compile) -> None:
    # bin/test-compile sets DISABLE_COLLECTSTATIC=1 in the process env: the skip shows for any app.
    result = compile_app("django_no_manage_py", script="test-compile").check()
    assert "-----> Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set." in result.stdout
    assert result.report()["django_collectstatic"] == "disabled-env-var"
    plain = compile_app("python_3.12", extra_env={"DISABLE_COLLECTSTATIC": "yes"}).check()
    assert "-----> Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set." in plain.stdout
    assert plain.report()["django_collectstatic"] == "disabled-env-var"


def test_staticfiles_app_not_enabled(compile_app: Compile) -> None:
    result = compile_app("django_staticfiles_app_not_enabled")
    assert "-----> $ python manage.py collectstatic --noinput\n" in result.stdout
    assert "Unknown command: 'collectstatic'" in result.stdout, result.describe()
    report = _assert_failed_at_collectstatic(result)
    assert report["failure_reason"] == "collectstatic-other"


def test_misconfigured_with_debug(compile_app: Compile) -> None:
    result = compile_app("django_staticfiles_misconfigured", config={"DEBUG_COLLECTSTATIC": "1"})
    out = result.stdout
    assert "ImproperlyConfigured" in out, result.describe()
    report = _assert_failed_at_collectstatic(result)
    assert report["failure_reason"] == "collectstatic-improper-configuration"
    # The environment it ran with, indented, config var values hidden.
    header = "-----> Environment variables collectstatic ran with (DEBUG_COLLECTSTATIC is set):\n"
    assert header in out
    dump = out[out.index(header) + len(header) :].split("\n")
    assert f"       BUILD_DIR={result.build_dir}" in dump
    assert "       PYTHONPATH=." in dump
    assert "       DEBUG_COLLECTSTATIC=<config var, value hidden>" in dump
    assert all(line.startswith("       ") for line in dump if line)


def test_misconfigured_without_debug_prints_no_environment(compile_app: Compile) -> None:
    result = compile_app("django_staticfiles_misconfigured")
    _assert_failed_at_collectstatic(result)
    assert "Environment variables collectstatic ran with" not in result.stdout
    assert "DEBUG_COLLECTSTATIC=1" in result.stderr  # the error says how to see it


# --- helpers ------------------------------------------------------------------------------------------


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_find_manage_py_shallowest_first(tmp_path: Path) -> None:
    assert find_manage_py(tmp_path) is None
    _touch(tmp_path / "a" / "b" / "manage.py")
    assert find_manage_py(tmp_path) == Path("a/b/manage.py")
    _touch(tmp_path / "z" / "manage.py")
    _touch(tmp_path / "b" / "manage.py")
    assert find_manage_py(tmp_path) == Path("b/manage.py")
    _touch(tmp_path / "manage.py")
    assert find_manage_py(tmp_path) == Path("manage.py")


def test_find_manage_py_depth_limit_and_symlinks(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "b" / "c" / "manage.py")  # depth 4: too deep
    assert find_manage_py(tmp_path) is None
    (tmp_path / "link").symlink_to(tmp_path / "a" / "b", target_is_directory=True)
    assert find_manage_py(tmp_path) is None  # symlinked directories are not followed
    (tmp_path / "a" / "b" / "manage.py").mkdir()  # not a file
    assert find_manage_py(tmp_path) is None
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "manage.py").symlink_to("../a/b/c/manage.py")  # a symlinked file counts
    assert find_manage_py(tmp_path) == Path("x/manage.py")


def test_switched_on() -> None:
    name = "DISABLE_COLLECTSTATIC"
    assert not switched_on(name, {}, {})
    assert not switched_on(name, {name: "0"}, {})
    assert not switched_on(name, {name: ""}, {})
    assert not switched_on(name, {}, {name: "0\n"})
    assert switched_on(name, {name: "1"}, {})
    assert switched_on(name, {name: "false"}, {})  # anything but 0
    assert switched_on(name, {}, {name: "1"})
    assert switched_on(name, {name: ""}, {name: "1"})  # empty counts as unset
    assert not switched_on(name, {name: "0"}, {name: "1"})  # the config var wins


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("  File x\nSyntaxError: invalid syntax\nImproperlyConfigured", "collectstatic-syntax-error"),
        ("django.core.exceptions.ImproperlyConfigured: STATIC_URL", "collectstatic-improper-configuration"),
        ("ValueError: The CSS file 'a.css' references a file which could not be found: b.png",
         "collectstatic-fancy-references"),
        ("OSError: [Errno 2] No such file or directory", "collectstatic-missing-file"),
        ("Unknown command: 'collectstatic'", "collectstatic-other"),
    ],
)  # fmt: skip
def test_failure_reason(log: str, reason: str) -> None:
    assert failure_reason(log) == reason


def test_app_directories_named_like_the_modules_do_not_count(compile_app: Compile, tmp_path: Path) -> None:
    # Neither Django nor nltk is installed; the app's own django/ and nltk/ packages must not trigger
    # collectstatic or the NLTK download.
    app = tmp_path / "app"
    for package in ("django", "nltk"):
        _touch(app / package / "__init__.py")
    (app / "manage.py").write_text("raise SystemExit('manage.py must not run')\n")
    (app / "nltk.txt").write_text("stopwords\n")
    (app / "requirements.txt").write_text("")
    (app / ".python-version").write_text("3.12\n")
    result = compile_app(app).check()
    assert "collectstatic" not in result.stdout
    assert "NLTK" not in result.stdout
    report = result.report()
    assert "django_collectstatic" not in report
    assert "nltk_downloader" not in report


def test_warm_no_op_restores_the_collectstatic_output(compile_app: Compile, tmp_path: Path) -> None:
    """Issue 11: an unchanged app, environment and config vars reuse the last output (said in the log);
    a changed static file, or a changed config var, runs collectstatic again."""
    config = {"EXPECTED_ENV_VAR": "1"}
    first = compile_app("django_staticfiles_latest_django", config=config).check()
    assert first.report()["django_collectstatic"] == "enabled"
    step = "-----> $ python backend/manage.py collectstatic --noinput"
    again = first.recompile().check()
    out = again.stdout
    assert step not in out
    assert "Restoring the output of the last 'python backend/manage.py collectstatic --noinput'" in out
    assert again.report()["django_collectstatic"] == "restored"
    robots = again.build_dir / "backend" / "staticfiles" / "robots.txt"
    assert robots.read_text() == (first.build_dir / "backend" / "staticfiles" / "robots.txt").read_text()
    assert "Environment seen by the Django settings" not in out  # Django did not run

    changed = tmp_path / "changed"
    shutil.copytree(app_source("django_staticfiles_latest_django"), changed)
    (changed / "backend" / "testapp" / "static" / "robots.txt").write_text("User-agent: *\nDisallow: /x\n")
    third = again.recompile(changed).check()
    assert step in third.stdout
    assert third.report()["django_collectstatic"] == "enabled"
    assert "Disallow: /x" in (third.build_dir / "backend" / "staticfiles" / "robots.txt").read_text()

    fourth = third.recompile(changed, config={**config, "OTHER_VAR": "2"}).check()
    assert step in fourth.stdout
    fifth = fourth.recompile(changed, config={**config, "OTHER_VAR": "2"}).check()
    assert step not in fifth.stdout
    assert "Disallow: /x" in (fifth.build_dir / "backend" / "staticfiles" / "robots.txt").read_text()
