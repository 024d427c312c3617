"""pip for one-off commands at runtime, added when uv or Poetry did the install (their syncs leave no
pip). Only pip is added: setuptools and the rest are the lockfile's business.

When the pinned uv binary is already in the build (the uv manager, the uv installer, or a tool that uv
installed), uv installs pip from the configured index in a fraction of a second; otherwise the
runtime's bundled pip wheel installs it (a second Python process that imports all of pip, resolves,
downloads and compiles: seconds on a cold build)."""

from __future__ import annotations

from pybuildpack.context import BuildContext
from pybuildpack.package_managers import pip, tools, uv
from pybuildpack.python_version import ResolvedPython


def ensure_runtime_pip(ctx: BuildContext, python: ResolvedPython) -> None:
    if pip.has_pip(ctx.python_home):
        return
    version = pip.pins_for(python).pip
    label = f"pip {version}"
    binary = uv.ready_binary(ctx)
    if binary is None and tools.locked_platform(ctx) is not None:
        # uv (from the tool store, or fetched) is faster than a pip process that installs pip
        binary = uv.install_uv(ctx, tools.pins("uv")["uv"])
    if binary is None:
        ctx.console.step(f"Installing {label} for one-off commands at runtime")
        pip.Pip("requirements.txt", python)._bootstrap(ctx, [f"pip=={version}"], label)
        return
    ctx.console.step(f"Installing {label} for one-off commands at runtime, using uv")
    uv.pip_install_into_runtime(ctx, binary, [f"pip=={version}"], manager="pip", label=label)
