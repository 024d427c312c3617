"""Install the resolved Python (CPython, or experimentally PyPy) into the layout's Python home from
the runtime manifest (D3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pybuildpack.context import BuildContext
from pybuildpack.env import mask_url, setting
from pybuildpack.errors import BuildError
from pybuildpack.python_version import ResolvedPython, Version
from pybuildpack.runtime.fetch import install_runtime_from
from pybuildpack.runtime.manifest import (
    PYPY,
    Manifest,
    RuntimeEntry,
    default_manifest_location,
    load_manifest,
)
from pybuildpack.runtime.platform import HostPlatform, host_platform


@dataclass(frozen=True)
class Runtimes:
    """The runtimes the manifest in use offers for this host."""

    location: str
    host: HostPlatform
    entries: dict[Version, RuntimeEntry]
    pypy_entries: dict[Version, RuntimeEntry] = field(default_factory=dict)  # by PyPy release

    @property
    def versions(self) -> list[Version]:
        return sorted(self.entries)

    @property
    def pypy(self) -> dict[Version, Version]:
        """PyPy release -> the Python version it implements."""
        return {release: entry.language_tuple for release, entry in self.pypy_entries.items()}


def load_runtimes(ctx: BuildContext) -> Runtimes:
    location = setting("PYBUILDPACK_RUNTIME_MANIFEST", ctx.config, ctx.environ) or default_manifest_location()
    manifest: Manifest = load_manifest(location, relative_to=ctx.build_dir)
    host = host_platform()
    return Runtimes(mask_url(location), host, manifest.for_host(host), manifest.for_host(host, PYPY))


def runtime_entry(runtimes: Runtimes, python: ResolvedPython) -> RuntimeEntry:
    """The manifest entry for the resolved version, looked up before anything is downloaded (D3)."""
    if python.pypy is not None:
        entry = runtimes.pypy_entries.get(python.pypy)
    else:
        entry = runtimes.entries.get(python.version)
    if entry is None:
        raise BuildError(
            f"{python.display} is not in the runtime manifest for {runtimes.host.distro_tag}.",
            f"The manifest {runtimes.location} has no archive of {python.display} for "
            f"{runtimes.host.distro_tag} or {runtimes.host.portable_tag}.",
            "Add the runtime to the mirror (`pybuildpack runtime pack PREFIX --output DIR`), "
            "or request a version the manifest lists (`pybuildpack runtime list`).",
            failure_reason="python-version::unknown-patch",
            failure_detail=python.ident,
        )
    return entry


def install_python(ctx: BuildContext, entry: RuntimeEntry, python: ResolvedPython) -> None:
    ctx.console.step(f"Installing {python.display}")
    ctx.console.info(f"Runtime archive: {mask_url(entry.url)} ({entry.platform})")
    install_runtime_from(entry, ctx.layout.runtime_archives, ctx.python_home, ctx.console)
