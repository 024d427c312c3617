"""The app's runtime environment (``.profile.d/*.sh``) and later buildpacks' build one (``export``).

Runtime scripts are sourced at boot by the platform (or by ``pybuildpack run``) with ``HOME`` set to the
app's directory, so they name the install as ``${HOME}/.heroku/python``. Team decision D7: there is no
``/app`` symlink and no boot-time rewriting of paths; the install is relocatable, so the app runs wherever
it is extracted. All scripts are POSIX sh, safe under ``set -u`` and ``set -e``, and never ``exit``.
"""

from __future__ import annotations

import os
from pathlib import Path

MANAGERS = ("pip", "pipenv", "poetry", "uv")

_HEADER = "# Written by pybuildpack. Sourced at boot: POSIX sh, never exits.\n"


def _dq(literal: str, *, in_default: bool = False) -> str:
    """A literal made safe inside double quotes (``in_default``: inside a double-quoted ``${VAR:-...}``)."""
    special = '\\"$`' + ("}" if in_default else "")
    return "".join(f"\\{char}" if char in special else char for char in literal)


def _set(var: str, expr: str) -> str:
    """Override: ``export VAR="expr"`` (expr is double-quote-ready text)."""
    return f'export {var}="{expr}"'


def _prepend(var: str, expr: str) -> str:
    """Prepend, keeping the old value after a ``:``, with no stray ``:`` when there was none."""
    return f'export {var}="{expr}${{{var}:+:${{{var}}}}}"'


def _default(var: str, expr: str) -> str:
    """Default only: a value already set (and not empty) wins."""
    return f'export {var}="${{{var}:-{expr}}}"'


def _runtime_manager_lines(manager: str) -> list[str]:
    if manager == "pip":
        return [_set("PIP_DISABLE_PIP_VERSION_CHECK", "1")]
    if manager == "pipenv":
        return [
            _prepend("PATH", "${HOME}/.heroku/python/pipenv/bin"),
            _set("PIPENV_SYSTEM", "1"),
            _set("PIPENV_VERBOSITY", "-1"),
            _set("VIRTUAL_ENV", "${HOME}/.heroku/python"),
        ]
    return []  # Poetry and uv are build tools only: not in the slug, not on the runtime PATH


def _shared_lines(python_home: str, app_dir: str) -> list[str]:
    """The lines common to ``python.sh`` and ``export``.

    ``python_home`` is double-quote-ready text, ``app_dir`` is ready for a double-quoted ``${VAR:-...}``.
    """
    return [
        _prepend("PATH", f"{python_home}/bin"),
        _set("PYTHONUNBUFFERED", "true"),
        _set("PYTHONHOME", python_home),
        _prepend("LIBRARY_PATH", f"{python_home}/lib"),
        _prepend("LD_LIBRARY_PATH", f"{python_home}/lib"),
        _default("LANG", "en_US.UTF-8"),
        _default("PYTHONPATH", app_dir),
    ]


def _check_manager(manager: str) -> None:
    if manager not in MANAGERS:
        raise ValueError(f"unknown package manager {manager!r}")


def python_sh(*, manager: str, nltk: bool) -> str:
    """Content of ``.profile.d/python.sh``."""
    _check_manager(manager)
    lines = _runtime_manager_lines(manager)
    if nltk:
        lines.append(_set("NLTK_DATA", "${HOME}/.heroku/python/nltk_data"))
    lines += _shared_lines("${HOME}/.heroku/python", "${HOME}")
    return _HEADER + "\n".join(lines) + "\n"


GUNICORN_SH = (
    _HEADER
    + "export FORWARDED_ALLOW_IPS='*'\n"
    + 'export GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS:---access-logfile -}"\n'
)

# Memory limit: cgroup v2 ``memory.max`` ("max" = no limit), else cgroup v1 ``memory/memory.limit_in_bytes``;
# more than 1048576 MB means no limit (D12). PYBUILDPACK_CGROUP_ROOT and PYBUILDPACK_NPROC exist for tests.
WEB_CONCURRENCY_SH = (
    _HEADER
    + r"""# Sets WEB_CONCURRENCY (gunicorn's and uvicorn's worker count) from the memory limit and CPU count.
_pybp_log() {
    case "${DYNO:-}" in
        web.*) echo "Python buildpack: $*" >&2 ;;
    esac
}
_pybp_root="${PYBUILDPACK_CGROUP_ROOT:-/sys/fs/cgroup}"
_pybp_bytes=""
if [ -f "${_pybp_root}/memory.max" ]; then
    _pybp_bytes="$(cat "${_pybp_root}/memory.max" 2>/dev/null || :)"
elif [ -f "${_pybp_root}/memory/memory.limit_in_bytes" ]; then
    _pybp_bytes="$(cat "${_pybp_root}/memory/memory.limit_in_bytes" 2>/dev/null || :)"
fi
_pybp_mb=""
case "${_pybp_bytes}" in
    "" | *[!0-9]*) ;;
    *)
        if [ "${#_pybp_bytes}" -le 18 ]; then
            _pybp_mb=$((_pybp_bytes / 1048576))
            if [ "${_pybp_mb}" -gt 1048576 ]; then
                _pybp_mb=""
            fi
        fi
        ;;
esac
_pybp_cpus="${PYBUILDPACK_NPROC:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}"
case "${_pybp_cpus}" in
    "" | *[!0-9]* | 0) _pybp_cpus=1 ;;
esac
if [ -z "${_pybp_mb}" ]; then
    _pybp_log "Could not determine the memory limit: leaving WEB_CONCURRENCY unset."
else
    export DYNO_RAM="${_pybp_mb}"
    _pybp_log "Detected ${_pybp_mb} MB of memory and ${_pybp_cpus} CPU cores."
    if [ -n "${WEB_CONCURRENCY:-}" ]; then
        _pybp_log "WEB_CONCURRENCY is already set to '${WEB_CONCURRENCY}': skipping automatic configuration."
    else
        _pybp_by_mem=$((_pybp_mb / 256))
        if [ "${_pybp_by_mem}" -lt 1 ]; then
            _pybp_by_mem=1
        fi
        _pybp_by_cpu=$((2 * _pybp_cpus + 1))
        if [ "${_pybp_by_mem}" -lt "${_pybp_by_cpu}" ]; then
            export WEB_CONCURRENCY="${_pybp_by_mem}"
            _pybp_log "Setting WEB_CONCURRENCY=${WEB_CONCURRENCY} (limited by memory: 256 MB per worker)."
        else
            export WEB_CONCURRENCY="${_pybp_by_cpu}"
            _pybp_log "Setting WEB_CONCURRENCY=${WEB_CONCURRENCY} (limited by CPU cores: 2 per core + 1)."
        fi
        export WEB_CONCURRENCY_SET_BY="heroku/python"
    fi
fi
unset _pybp_root _pybp_bytes _pybp_mb _pybp_cpus _pybp_by_mem _pybp_by_cpu
unset -f _pybp_log
"""
)


def write_profile_scripts(build_dir: Path, *, manager: str, nltk: bool) -> None:
    """Write ``.profile.d/python.sh``, ``python.gunicorn.sh`` and ``WEB_CONCURRENCY.sh`` (mode 644)."""
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    scripts = {
        "python.sh": python_sh(manager=manager, nltk=nltk),
        "python.gunicorn.sh": GUNICORN_SH,
        "WEB_CONCURRENCY.sh": WEB_CONCURRENCY_SH,
    }
    for name, text in scripts.items():
        path = profile_d / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)


def _export_manager_lines(manager: str, python_home: Path, cache_dir: Path) -> list[str]:
    home = _dq(str(python_home))
    if manager == "pip":
        return [_set("PIP_DISABLE_PIP_VERSION_CHECK", "1")]
    if manager == "pipenv":
        return [
            _prepend("PATH", f"{home}/pipenv/bin"),
            _set("PIPENV_SYSTEM", "1"),
            _set("PIPENV_VERBOSITY", "-1"),
            _set("VIRTUAL_ENV", home),
        ]
    if manager == "poetry":
        return [
            _prepend("PATH", _dq(str(cache_dir / ".heroku/python-poetry/bin"))),
            _set("POETRY_VIRTUALENVS_CREATE", "false"),
            _set("POETRY_VIRTUALENVS_USE_POETRY_PYTHON", "true"),
        ]
    lines = [
        _prepend("PATH", _dq(str(cache_dir / ".heroku/python-uv"))),
        _set("UV_PROJECT_ENVIRONMENT", home),
        _set("UV_NO_MANAGED_PYTHON", "1"),
        _set("UV_PYTHON_DOWNLOADS", "never"),
        _set("UV_LINK_MODE", "hardlink"),
    ]
    if _under_tmp(python_home):
        # hard links need the cache on the install's filesystem; a user cache dir usually isn't
        lines.append(_set("UV_CACHE_DIR", "/tmp/uv-cache"))
    return lines


def _under_tmp(path: Path) -> bool:
    real = os.path.realpath(path)
    return real.startswith("/tmp/")


def export_text(build_dir: Path, *, manager: str, cache_dir: Path, nltk: bool) -> str:
    """Content for the buildpack's ``export`` file, which the platform sources before later buildpacks.

    Later buildpacks run *during the build*, when the app is in BUILD_DIR and (D7) no ``/app`` symlink
    exists, so every path here is the real, absolute ``BUILD_DIR/.heroku/python/...`` path (upstream
    writes ``/app/...`` or ``${HOME}/...``, which only work through its symlink). The variables are the
    same as upstream's: the manager lines, ``NLTK_DATA``, then PATH, PYTHONUNBUFFERED, PYTHONHOME,
    LIBRARY_PATH, LD_LIBRARY_PATH, LANG (default only) and PYTHONPATH, which defaults to BUILD_DIR
    (where upstream's ``${HOME}`` points at an ``/app`` that has no app code during a build).
    """
    _check_manager(manager)
    build_dir = build_dir.absolute()
    cache_dir = cache_dir.absolute()
    python_home = build_dir / ".heroku/python"
    lines = _export_manager_lines(manager, python_home, cache_dir)
    if nltk:
        lines.append(_set("NLTK_DATA", _dq(str(python_home / "nltk_data"))))
    lines += _shared_lines(_dq(str(python_home)), _dq(str(build_dir), in_default=True))
    return "\n".join(lines) + "\n"


def append_export(buildpack_dir: Path, text: str) -> None:
    """Append to ``<buildpack dir>/export`` (never truncated: a multi-run harness deletes it itself)."""
    path = buildpack_dir / "export"
    prefix = ""
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            if existing.read(1) != b"\n":
                prefix = "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(prefix + text + ("" if text.endswith("\n") else "\n"))
