"""Shared by the Pipenv, Poetry and uv managers: pins, installing a pinned tool from the configured
index with the runtime's bundled pip, version markers, and mapping the one configured index
(`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`) to each tool's own settings."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from pybuildpack import run
from pybuildpack.context import BuildContext
from pybuildpack.env import installer_environment, mask_secrets, mask_url
from pybuildpack.env import is_enabled as setting_enabled
from pybuildpack.errors import BuildError
from pybuildpack.output import colour_wanted
from pybuildpack.package_managers import tool_store, uv_wheel
from pybuildpack.package_managers.pip import bundled_pip_wheel

MARKER = ".pybuildpack-tool.json"


def pins(tool: str) -> dict[str, str]:
    """The pinned versions in data/<tool>.json (the tool itself under its own name, plus helpers)."""
    text = resources.files("pybuildpack").joinpath(f"data/{tool}.json").read_text(encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def marker_matches(directory: Path, wanted: Mapping[str, str]) -> bool:
    """Is the tool in `directory` the one described by `wanted` (versions and whatever else counts)?"""
    try:
        found = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and found == dict(wanted)


def write_marker(directory: Path, wanted: Mapping[str, str]) -> None:
    """Replaced, never written in place: the old file may be a hard link into the tool store."""
    staged = directory / f"{MARKER}.new"
    staged.write_text(json.dumps(dict(wanted), sort_keys=True) + "\n", encoding="utf-8")
    staged.replace(directory / MARKER)


def obtain(ctx: BuildContext, entry: tuple[str, Path], install: Callable[[], None], label: str) -> None:
    """The tool in ``home`` (entry = (store key, home)): from the host-wide tool store when the operator
    set one and it has the key, else installed by ``install()`` (and then published to the store)."""
    store = tool_store.root(ctx.config, ctx.environ)
    if tool_store.provide(store, entry, install, console=ctx.console, label=label):
        ctx.console.step(f"Using {label} from the tool store ({store})")


def remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def tool_environment(ctx: BuildContext) -> dict[str, str]:
    """What the tools see: config vars (D8), colour decided once, pip quiet about root and versions."""
    env = installer_environment(ctx.build_env, ctx.config)
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("FORCE_COLOR", None)
    env.pop("NO_COLOR", None)
    if colour(ctx):
        env["FORCE_COLOR"] = "1"
    else:
        env["NO_COLOR"] = "1"
    return env


def colour(ctx: BuildContext) -> bool:
    return colour_wanted(ctx.environ, sys.stdout)


def index_url(env: Mapping[str, str]) -> str | None:
    """The single configured index (config var or process env), if any."""
    value = env.get("PIP_INDEX_URL", "").strip()
    return value or None


def extra_index_urls(env: Mapping[str, str]) -> list[str]:
    return env.get("PIP_EXTRA_INDEX_URL", "").split()


def certificate_file(env: Mapping[str, str]) -> str | None:
    """pip's CA bundle setting, for tools that read SSL_CERT_FILE instead."""
    value = env.get("PIP_CERT", "").strip()
    return value if value and Path(value).is_file() else None


def url_secrets(env: Mapping[str, str]) -> list[str]:
    """Passwords (or lone tokens) inside the configured index URLs, wherever they were set."""
    found = []
    for url in [index_url(env) or "", *extra_index_urls(env)]:
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            continue
        secret = parts.password if parts.password is not None else parts.username
        if secret and len(secret) >= 3:
            found.append(secret)
            found.append(urllib.parse.unquote(secret))
    return found


def line_filter(ctx: BuildContext) -> run.LineFilter:
    """Tool output without secret config var values or index credentials."""
    secrets = url_secrets(tool_environment(ctx))

    def clean(line: str) -> str:
        for secret in secrets:
            line = line.replace(secret, "****")
        return mask_secrets(line, ctx.config)

    return clean


def describe_index(env: Mapping[str, str]) -> str:
    url = index_url(env)
    return mask_url(url) if url else "the default index"


def pip_install(ctx: BuildContext, args: list[str], *, python: Path | None = None) -> run.Result:
    """`pip install` with the runtime's bundled pip wheel (no pip needs to be installed), against the
    configured index (PIP_* settings come from the environment, never from --isolated)."""
    wheel = bundled_pip_wheel(ctx.python_home)
    cmd = [
        str(python or ctx.python),
        str(wheel / "pip"),
        "install",
        "--no-input",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--quiet",
        f"--cache-dir={ctx.layout.pip_cache}",
        *args,
    ]
    return run.stream(
        cmd, env=tool_environment(ctx), console=ctx.console, cwd=ctx.cache_dir, line_filter=line_filter(ctx)
    )


def locked_platform(ctx: BuildContext) -> str | None:
    """The platform whose pinned uv wheel and lock files install the tools without pip (issue 11),
    or None: no pinned wheel for this machine, or the operator opted out (PYBUILDPACK_TOOLS_WITH_PIP)."""
    if setting_enabled("PYBUILDPACK_TOOLS_WITH_PIP", ctx.config, ctx.environ):
        return None
    key = uv_wheel.platform_key()
    return key if uv_wheel.pinned(key) is not None else None


def lock_file(platform: str, tool: str, python_minor: str) -> Path | None:
    """data/locks/PLATFORM/TOOL-X.Y.txt: the tool's whole closure, pinned with hashes; None if absent."""
    found = resources.files("pybuildpack").joinpath(f"data/locks/{platform}/{tool}-{python_minor}.txt")
    return Path(str(found)) if found.is_file() else None


def install_failure(ctx: BuildContext, manager: str, label: str) -> BuildError:
    where = describe_index(tool_environment(ctx))
    return BuildError(
        f"Could not install {label}.",
        f"The installer could not install {label} from {where}; its output above says why. This is often a "
        "temporary problem reaching the package index.",
        "Check that the configured package index (PIP_INDEX_URL) is reachable and serves this version, "
        "then retry the build.",
        failure_reason=f"install-package-manager::{manager}",
    )
