"""The runtime scripts (.profile.d) and the export file, sourced by real POSIX shells."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pybuildpack import layout
from pybuildpack.steps.profile import append_export, export_text, write_profile_scripts
from support.buildpack import CompileResult

SHELLS = [shell for shell in ("/bin/sh", shutil.which("dash"), shutil.which("bash")) if shell]
MB = 1024 * 1024


def source(scripts: list[Path], env: dict[str, str], shell: str = "/bin/sh") -> tuple[dict[str, str], str]:
    """Source the scripts under ``set -eu`` (as strict as a caller can be), return the env and stderr."""
    program = 'set -eu\nfor f in "$@"; do . "$f"; done\necho sourced-ok >&2\nenv -0\n'
    proc = subprocess.run(
        [shell, "-c", program, "sh", *map(str, scripts)],
        env=env,
        capture_output=True,
        check=True,
        timeout=30,
    )
    stderr = proc.stderr.decode()
    assert stderr.endswith("sourced-ok\n"), stderr
    pairs = (item.split("=", 1) for item in proc.stdout.decode().split("\0") if "=" in item)
    return dict(pairs), stderr.removesuffix("sourced-ok\n")


def profile_dir(home: Path, manager: str = "pip", nltk: bool = False) -> list[Path]:
    write_profile_scripts(home / ".profile.d", manager=manager, nltk=nltk)
    return sorted((home / ".profile.d").glob("*.sh"))


def cgroup_v2(root: Path, value: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "memory.max").write_text(f"{value}\n")
    return root


def cgroup_v1(root: Path, value: str) -> Path:
    (root / "memory").mkdir(parents=True, exist_ok=True)
    (root / "memory/memory.limit_in_bytes").write_text(f"{value}\n")
    return root


# --- files ----------------------------------------------------------------------------------------------


def test_files_and_modes(tmp_path: Path) -> None:
    scripts = profile_dir(tmp_path)
    assert [p.name for p in scripts] == ["WEB_CONCURRENCY.sh", "python.gunicorn.sh", "python.sh"]
    for script in scripts:
        assert oct(script.stat().st_mode & 0o777) == "0o644"
        content = script.read_text()
        assert "/app" not in content  # D7: no /app symlink, no boot-time rewrite
        assert "ln " not in content
        assert "exit" not in content.replace("never exits", "")


def test_rewrite_is_idempotent(tmp_path: Path) -> None:
    profile_dir(tmp_path, "pipenv", nltk=True)
    scripts = profile_dir(tmp_path, "pip")
    assert "PIPENV" not in (tmp_path / ".profile.d/python.sh").read_text()
    assert len(scripts) == 3


def test_unknown_manager(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_profile_scripts(tmp_path / ".profile.d", manager="conda", nltk=False)


# --- python.sh + gunicorn -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_procfile_worker_dyno_with_junk_user_env(tmp_path: Path, shell: str) -> None:
    home = tmp_path / "app"
    scripts = profile_dir(home)
    env = {
        "HOME": str(home),
        "DYNO": "example-worker.1",
        "DYNO_RAM": "junk",
        "FORWARDED_ALLOW_IPS": "junk",
        "LANG": "junk",
        "PYTHONHOME": "junk",
        "PYTHONUNBUFFERED": "junk",
        "GUNICORN_CMD_ARGS": "--workers 3",
        "WEB_CONCURRENCY": "keep-me",
        "LD_LIBRARY_PATH": "/keep",
        "LIBRARY_PATH": "/keep",
        "PYTHONPATH": "/keep",
        "PATH": "/keep:/usr/local/bin:/usr/bin:/bin",
        "PYBUILDPACK_CGROUP_ROOT": str(cgroup_v2(tmp_path / "cg", str(512 * MB))),
        "PYBUILDPACK_NPROC": "8",
    }
    result, stderr = source(scripts, env, shell)
    python = f"{home}/.heroku/python"
    assert result["DYNO_RAM"] == "512"
    assert result["FORWARDED_ALLOW_IPS"] == "*"
    assert result["GUNICORN_CMD_ARGS"] == "--workers 3"
    assert result["LD_LIBRARY_PATH"] == f"{python}/lib:/keep"
    assert result["LIBRARY_PATH"] == f"{python}/lib:/keep"
    assert result["PATH"] == f"{python}/bin:/keep:/usr/local/bin:/usr/bin:/bin"
    assert result["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    assert result["PYTHONHOME"] == python
    assert result["PYTHONPATH"] == "/keep"
    assert result["PYTHONUNBUFFERED"] == "true"
    assert result["LANG"] == "junk"  # default only
    assert result["WEB_CONCURRENCY"] == "keep-me"
    assert "WEB_CONCURRENCY_SET_BY" not in result
    assert stderr == ""  # not a web dyno: no log lines
    assert not any(name.startswith("_pybp") for name in result)


@pytest.mark.parametrize("shell", SHELLS)
def test_defaults_without_user_values(tmp_path: Path, shell: str) -> None:
    home = tmp_path / "app"
    scripts = profile_dir(home)
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LD_LIBRARY_PATH": "",
        "PYBUILDPACK_CGROUP_ROOT": str(tmp_path / "none"),
    }
    result, stderr = source(scripts, env, shell)
    python = f"{home}/.heroku/python"
    assert result["LANG"] == "en_US.UTF-8"
    assert result["PYTHONPATH"] == str(home)
    assert result["LD_LIBRARY_PATH"] == f"{python}/lib"  # no stray ':'
    assert result["LIBRARY_PATH"] == f"{python}/lib"
    assert result["GUNICORN_CMD_ARGS"] == "--access-logfile -"
    assert result["FORWARDED_ALLOW_IPS"] == "*"
    assert "DYNO_RAM" not in result
    assert "WEB_CONCURRENCY" not in result
    assert "NLTK_DATA" not in result
    assert "VIRTUAL_ENV" not in result
    assert stderr == ""


def test_home_with_spaces_and_dollar(tmp_path: Path) -> None:
    home = tmp_path / "my app $HOME"
    scripts = profile_dir(home, nltk=True)
    result, _ = source(scripts, {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert result["PYTHONHOME"] == f"{home}/.heroku/python"
    assert result["NLTK_DATA"] == f"{home}/.heroku/python/nltk_data"
    assert result["PYTHONPATH"] == str(home)


def test_pipenv_lines(tmp_path: Path) -> None:
    home = tmp_path / "app"
    scripts = profile_dir(home, "pipenv")
    result, _ = source(scripts, {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    python = f"{home}/.heroku/python"
    assert result["PATH"] == f"{python}/bin:{python}/pipenv/bin:/usr/bin:/bin"
    assert result["PIPENV_SYSTEM"] == "1"
    assert result["PIPENV_VERBOSITY"] == "-1"
    assert result["VIRTUAL_ENV"] == python
    assert "PIP_DISABLE_PIP_VERSION_CHECK" not in result


@pytest.mark.parametrize("manager", ["poetry", "uv"])
def test_poetry_and_uv_are_not_in_the_runtime(tmp_path: Path, manager: str) -> None:
    home = tmp_path / "app"
    scripts = profile_dir(home, manager)
    result, _ = source(scripts, {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert result["PATH"] == f"{home}/.heroku/python/bin:/usr/bin:/bin"
    assert not any(name.startswith(("POETRY_", "UV_", "PIP_", "PIPENV_")) for name in result)


def test_nltk_data(tmp_path: Path) -> None:
    home = tmp_path / "app"
    scripts = profile_dir(home, nltk=True)
    result, _ = source(scripts, {"HOME": str(home), "PATH": "/usr/bin:/bin", "NLTK_DATA": "/user"})
    assert result["NLTK_DATA"] == f"{home}/.heroku/python/nltk_data"


# --- WEB_CONCURRENCY.sh -----------------------------------------------------------------------------------

TABLE = [
    (512, 8, 2),
    (1024, 8, 4),
    (2560, 2, 5),
    (14336, 8, 17),
    (30720, 4, 9),
    (63488, 8, 17),
    (129024, 16, 33),
]


def concurrency(tmp_path: Path, root: Path, nproc: str, **extra: str) -> tuple[dict[str, str], str]:
    home = tmp_path / "app"
    write_profile_scripts(home / ".profile.d", manager="pip", nltk=False)
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "PYBUILDPACK_CGROUP_ROOT": str(root),
        "PYBUILDPACK_NPROC": nproc,
        **extra,
    }
    return source([home / ".profile.d/WEB_CONCURRENCY.sh"], env)


@pytest.mark.parametrize(("ram", "cores", "expected"), TABLE)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_web_concurrency_table(tmp_path: Path, ram: int, cores: int, expected: int, version: str) -> None:
    make = cgroup_v2 if version == "v2" else cgroup_v1
    root = make(tmp_path / "cg", str(ram * MB))
    result, stderr = concurrency(tmp_path, root, str(cores), DYNO="web.1")
    assert result["DYNO_RAM"] == str(ram)
    assert result["WEB_CONCURRENCY"] == str(expected)
    assert result["WEB_CONCURRENCY_SET_BY"] == "heroku/python"
    lines = stderr.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("Python buildpack: ") for line in lines)
    assert f"{ram} MB" in lines[0]
    assert f"{cores} CPU cores" in lines[0]
    assert f"WEB_CONCURRENCY={expected}" in lines[1]
    deciding = "memory" if ram // 256 < 2 * cores + 1 else "CPU cores"
    assert f"limited by {deciding}" in lines[1]


def test_web_concurrency_already_set(tmp_path: Path) -> None:
    root = cgroup_v2(tmp_path / "cg", str(512 * MB))
    result, stderr = concurrency(tmp_path, root, "8", DYNO="web.1", WEB_CONCURRENCY="999")
    assert result["DYNO_RAM"] == "512"
    assert result["WEB_CONCURRENCY"] == "999"
    assert "WEB_CONCURRENCY_SET_BY" not in result
    lines = stderr.splitlines()
    assert len(lines) == 2
    assert "512 MB" in lines[0]
    assert "already set" in lines[1]


def test_worker_dyno_sets_values_silently(tmp_path: Path) -> None:
    root = cgroup_v1(tmp_path / "cg", str(1024 * MB))
    result, stderr = concurrency(tmp_path, root, "8", DYNO="worker.1")
    assert result["WEB_CONCURRENCY"] == "4"
    assert stderr == ""


@pytest.mark.parametrize(
    ("setup", "value"),
    [
        ("v2", "max"),
        ("v1", "9223372036854771712"),  # cgroup v1's "no limit"
        ("v2", str((1048576 + 1) * MB)),  # more than 1 TB: no limit
        ("v2", "99999999999999999999999"),  # would overflow shell arithmetic
        ("v2", ""),
        ("v1", "garbage"),
        ("none", ""),
    ],
)
def test_unknown_memory(tmp_path: Path, setup: str, value: str) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    if setup == "v2":
        cgroup_v2(root, value)
    elif setup == "v1":
        cgroup_v1(root, value)
    result, stderr = concurrency(tmp_path, root, "8", DYNO="web.1")
    assert "DYNO_RAM" not in result
    assert "WEB_CONCURRENCY" not in result
    assert stderr.startswith("Python buildpack: ")
    assert "memory" in stderr
    assert len(stderr.splitlines()) == 1


def test_exactly_one_terabyte_is_a_limit(tmp_path: Path) -> None:
    root = cgroup_v2(tmp_path / "cg", str(1048576 * MB))
    result, _ = concurrency(tmp_path, root, "2")
    assert result["DYNO_RAM"] == "1048576"
    assert result["WEB_CONCURRENCY"] == "5"


def test_v2_file_wins_over_v1(tmp_path: Path) -> None:
    root = cgroup_v1(tmp_path / "cg", str(512 * MB))
    cgroup_v2(root, str(1024 * MB))
    result, _ = concurrency(tmp_path, root, "8")
    assert result["DYNO_RAM"] == "1024"


def test_tiny_memory_gives_one_worker(tmp_path: Path) -> None:
    root = cgroup_v2(tmp_path / "cg", str(100 * MB))
    result, _ = concurrency(tmp_path, root, "8")
    assert result["WEB_CONCURRENCY"] == "1"


def test_real_cpu_count_is_used_by_default(tmp_path: Path) -> None:
    home = tmp_path / "app"
    write_profile_scripts(home / ".profile.d", manager="pip", nltk=False)
    root = cgroup_v2(tmp_path / "cg", str(129024 * MB))
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = {"HOME": str(home), "PATH": path, "PYBUILDPACK_CGROUP_ROOT": str(root)}
    result, _ = source([home / ".profile.d/WEB_CONCURRENCY.sh"], env)
    cpus = len(os.sched_getaffinity(0))
    assert result["WEB_CONCURRENCY"] == str(2 * cpus + 1)


def test_default_cgroup_root_does_not_break_sourcing(tmp_path: Path) -> None:
    home = tmp_path / "app"
    write_profile_scripts(home / ".profile.d", manager="pip", nltk=False)
    result, _ = source([home / ".profile.d/WEB_CONCURRENCY.sh"], {"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert "PYBUILDPACK_CGROUP_ROOT" not in result


# --- export -------------------------------------------------------------------------------------------


def source_export(tmp_path: Path, text: str, env: dict[str, str]) -> dict[str, str]:
    path = tmp_path / "export-under-test"
    path.write_text(text)
    return source([path], env)[0]


def test_export_pip_uses_the_build_dir(tmp_path: Path) -> None:
    build = tmp_path / "build_abc"
    text = export_text(layout.classic(build, tmp_path / "cache"), manager="pip", nltk=False)
    assert "/app" not in text
    assert "${HOME}" not in text
    result = source_export(tmp_path, text, {"HOME": "/elsewhere", "PATH": "/usr/bin:/bin"})
    python = f"{build}/.heroku/python"
    assert result["PATH"] == f"{python}/bin:/usr/bin:/bin"
    assert result["PYTHONHOME"] == python
    assert result["LD_LIBRARY_PATH"] == f"{python}/lib"
    assert result["LIBRARY_PATH"] == f"{python}/lib"
    assert result["PYTHONPATH"] == str(build)
    assert result["PYTHONUNBUFFERED"] == "true"
    assert result["LANG"] == "en_US.UTF-8"
    assert result["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    added = set(result) - {"HOME", "PATH", "PWD", "SHLVL", "_", "OLDPWD"}
    assert added == {
        "LANG",
        "LD_LIBRARY_PATH",
        "LIBRARY_PATH",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
    }


def test_export_keeps_user_defaults(tmp_path: Path) -> None:
    text = export_text(layout.classic(tmp_path / "b", tmp_path / "c"), manager="pip", nltk=False)
    result = source_export(tmp_path, text, {"PATH": "/bin", "LANG": "C.UTF-8", "PYTHONPATH": "/keep"})
    assert result["LANG"] == "C.UTF-8"
    assert result["PYTHONPATH"] == "/keep"


def test_export_pipenv_and_nltk(tmp_path: Path) -> None:
    build = tmp_path / "b"
    text = export_text(layout.classic(build, tmp_path / "c"), manager="pipenv", nltk=True)
    result = source_export(tmp_path, text, {"PATH": "/bin"})
    python = f"{build}/.heroku/python"
    assert result["PATH"] == f"{python}/bin:{python}/pipenv/bin:/bin"
    assert result["VIRTUAL_ENV"] == python
    assert result["PIPENV_SYSTEM"] == "1"
    assert result["PIPENV_VERBOSITY"] == "-1"
    assert result["NLTK_DATA"] == f"{python}/nltk_data"
    lines = text.splitlines()
    assert lines.index(next(line for line in lines if "NLTK_DATA" in line)) == 4


def test_export_poetry(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    text = export_text(layout.classic(tmp_path / "b", cache), manager="poetry", nltk=False)
    result = source_export(tmp_path, text, {"PATH": "/bin"})
    assert result["PATH"] == f"{tmp_path}/b/.heroku/python/bin:{cache}/.heroku/python-poetry/bin:/bin"
    assert result["POETRY_VIRTUALENVS_CREATE"] == "false"
    assert result["POETRY_VIRTUALENVS_USE_POETRY_PYTHON"] == "true"


def test_export_uv(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build = tmp_path / "b"
    (build / ".heroku/python").mkdir(parents=True)
    text = export_text(layout.classic(build, cache), manager="uv", nltk=False)
    result = source_export(tmp_path, text, {"PATH": "/bin"})
    assert result["PATH"] == f"{build}/.heroku/python/bin:{cache}/.heroku/python-uv:/bin"
    assert result["UV_PROJECT_ENVIRONMENT"] == f"{build}/.heroku/python"
    assert result["UV_NO_MANAGED_PYTHON"] == "1"
    assert result["UV_PYTHON_DOWNLOADS"] == "never"
    assert result["UV_LINK_MODE"] == "hardlink"
    under_tmp = os.path.realpath(build / ".heroku/python").startswith("/tmp/")
    assert ("UV_CACHE_DIR" in result) is under_tmp
    if under_tmp:
        assert result["UV_CACHE_DIR"] == "/tmp/uv-cache"


def test_export_quotes_awkward_paths(tmp_path: Path) -> None:
    build = tmp_path / 'we"ird $dir `x` \\ }'
    text = export_text(layout.classic(build, tmp_path / "c"), manager="pip", nltk=True)
    result = source_export(tmp_path, text, {"PATH": "/bin"})
    assert result["PYTHONHOME"] == f"{build}/.heroku/python"
    assert result["PYTHONPATH"] == str(build)
    assert result["NLTK_DATA"] == f"{build}/.heroku/python/nltk_data"


def test_export_relative_build_dir_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = export_text(layout.classic(Path("rel"), Path("c")), manager="pip", nltk=False)
    assert f"{tmp_path}/rel/.heroku/python" in text


def test_append_export_never_truncates(tmp_path: Path) -> None:
    (tmp_path / "export").write_text("export EARLIER=1")  # no final newline
    append_export(tmp_path, 'export A="1"\n')
    append_export(tmp_path, 'export B="2"')
    assert (tmp_path / "export").read_text() == 'export EARLIER=1\nexport A="1"\nexport B="2"\n'


def test_append_export_creates_the_file(tmp_path: Path) -> None:
    text = export_text(layout.classic(tmp_path / "b", tmp_path / "c"), manager="pip", nltk=False)
    append_export(tmp_path, text)
    assert (tmp_path / "export").read_text() == text


# --- end to end: a real build of the `procfile` fixture, then a boot as the platform does it -------------


def test_procfile_fixture_boots_with_the_built_python(
    compile_app: Callable[..., CompileResult], tmp_path: Path
) -> None:
    result = compile_app("procfile").check()
    app = tmp_path / "extracted"  # D7: the slug runs wherever it is extracted
    shutil.copytree(result.build_dir, app, symlinks=True)
    shutil.rmtree(result.build_dir)
    code = "import os, sys; print(sys.prefix); print(os.environ['PYTHONPATH'])"
    program = 'for f in "$HOME"/.profile.d/*.sh; do . "$f"; done; exec python -c "$1"'
    env = {
        "HOME": str(app),
        "DYNO": "example-worker.1",
        "PATH": "/keep:/usr/local/bin:/usr/bin:/bin",
        "PYTHONHOME": "junk",
        "PYTHONPATH": "/keep",
        "LD_LIBRARY_PATH": "/keep",
        "WEB_CONCURRENCY": "keep-me",
        "PYBUILDPACK_CGROUP_ROOT": str(cgroup_v2(tmp_path / "cg", str(512 * MB))),
        "PYBUILDPACK_NPROC": "8",
    }
    proc = subprocess.run(
        ["sh", "-c", program, "sh", code],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{app}/.heroku/python", "/keep"]
    assert proc.stderr == ""
