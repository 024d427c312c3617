"""The app's runtime environment (``.profile.d/*.sh``) and later buildpacks' build one (``export``).

Runtime scripts are sourced at boot by the platform (or by ``pybuildpack run``) with ``HOME`` set to the
app's directory, so they name the install as ``${HOME}/.heroku/python``. Team decision D7: there is no
``/app`` symlink and no boot-time rewriting of paths; the install is relocatable, so the app runs wherever
it is extracted. All scripts are POSIX sh, safe under ``set -u`` and ``set -e``, and never ``exit``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pybuildpack.layout import Layout
from pybuildpack.package_managers import registry
from pybuildpack.package_managers.spec import EnvVar

RUNTIME_HOME = "${HOME}/.heroku/python"  # the Python home as runtime scripts name it (D7)

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


def _line(var: EnvVar, where: Layout | None) -> str:
    """One ``export`` line. ``where`` None: the runtime form, with the app at ``${HOME}`` (D7)."""
    in_default = var.action == "default"
    if var.under is None:
        expr = _dq(var.value, in_default=in_default)
    elif where is None:
        expr = _runtime_path(var)
    else:
        base = Path(getattr(where, var.under)).absolute()
        expr = _dq(str(base / var.value) if var.value else str(base), in_default=in_default)
    if var.action == "prepend":
        return _prepend(var.name, expr)
    if var.action == "default":
        return _default(var.name, expr)
    return _set(var.name, expr)


def _runtime_path(var: EnvVar) -> str:
    roots = {"python_home": RUNTIME_HOME, "app_dir": "${HOME}"}
    if var.under not in roots:
        raise ValueError(f"{var.name}: {var.under} does not exist at runtime")
    return roots[var.under] + (f"/{var.value}" if var.value else "")


def shared_env(*, nltk: bool) -> list[EnvVar]:
    """What every installed app needs, whatever its manager, at runtime and in later buildpacks."""
    found = [EnvVar("NLTK_DATA", "nltk_data", under="python_home")] if nltk else []
    return [
        *found,
        EnvVar("PATH", "bin", "prepend", under="python_home"),
        EnvVar("PYTHONUNBUFFERED", "true"),
        EnvVar("PYTHONHOME", under="python_home"),
        EnvVar("LIBRARY_PATH", "lib", "prepend", under="python_home"),
        EnvVar("LD_LIBRARY_PATH", "lib", "prepend", under="python_home"),
        EnvVar("LANG", "en_US.UTF-8", "default"),
        EnvVar("PYTHONPATH", "", "default", under="app_dir"),
    ]


def python_sh(*, manager: str, nltk: bool) -> str:
    """Content of ``.profile.d/python.sh``."""
    variables = [*registry.spec(manager).runtime_env, *shared_env(nltk=nltk)]
    lines = [_line(var, None) for var in variables]
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


def write_profile_scripts(profile_d: Path, *, manager: str, nltk: bool) -> None:
    """Write ``.profile.d/python.sh``, ``python.gunicorn.sh`` and ``WEB_CONCURRENCY.sh`` (mode 644)."""
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


def export_text(where: Layout, *, manager: str, nltk: bool) -> str:
    """Content for the buildpack's ``export`` file, which the platform sources before later buildpacks.

    Later buildpacks run *during the build*, when the app is in BUILD_DIR and (D7) no ``/app`` symlink
    exists, so every path here is the real, absolute ``BUILD_DIR/.heroku/python/...`` path (upstream
    writes ``/app/...`` or ``${HOME}/...``, which only work through its symlink). The variables are the
    same as upstream's: the manager lines, ``NLTK_DATA``, then PATH, PYTHONUNBUFFERED, PYTHONHOME,
    LIBRARY_PATH, LD_LIBRARY_PATH, LANG (default only) and PYTHONPATH, which defaults to BUILD_DIR
    (where upstream's ``${HOME}`` points at an ``/app`` that has no app code during a build).
    """
    variables = [*registry.spec(manager).build_env(where), *shared_env(nltk=nltk)]
    lines = [_line(var, where) for var in variables]
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
