"""`pybuildpack runtime pack PREFIX --output DIR` and `pybuildpack runtime list [--manifest LOCATION]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pybuildpack.cli.common import table_lines
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.runtime.manifest import PYPY, RuntimeEntry, default_manifest_location, load_manifest
from pybuildpack.runtime.pack import pack_runtime
from pybuildpack.runtime.platform import host_platform


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "runtime",
        help="pack and list Python runtimes",
        description="Pack relocatable CPython (or, experimentally, PyPy) runtime archives and list the "
        "runtimes a manifest offers.",
    )
    actions = parser.add_subparsers(dest="runtime_command", metavar="ACTION", required=True)

    pack = actions.add_parser(
        "pack",
        help="pack an installed CPython prefix (or a PyPy) into a relocatable archive",
        description="Pack an installed CPython prefix (e.g. $(pyenv root)/versions/3.12.1), or a PyPy "
        "given by its prefix or interpreter (e.g. /usr/bin/pypy3, experimental), into a relocatable "
        ".tar.gz and add it to DIR/manifest.json. Needs patchelf on PATH.",
    )
    pack.add_argument(
        "prefix",
        metavar="PREFIX",
        type=Path,
        help="the installation prefix (holds bin/, lib/), or its interpreter",
    )
    pack.add_argument("--output", "-o", metavar="DIR", type=Path, required=True, help="the mirror directory")
    pack.set_defaults(func=_pack)

    listing = actions.add_parser(
        "list",
        help="list the runtimes of a manifest",
        description="List the runtimes of a manifest (default: PYBUILDPACK_RUNTIME_MANIFEST, else the "
        "manifest shipped with pybuildpack); '*' marks those usable on this host.",
    )
    listing.add_argument("--manifest", metavar="LOCATION", help="path, file:// or http(s):// URL")
    listing.set_defaults(func=_list)


def _pack(args: argparse.Namespace) -> int:
    console = Console()
    try:
        console.step(f"Packing the Python in {args.prefix}")
        entry = pack_runtime(args.prefix, args.output)
    except BuildError as error:
        console.error(error)
        return 1
    archive = args.output / entry.url.rsplit("/", 1)[-1]
    console.info(f"Version:  {entry.version} ({entry.implementation})")
    if entry.python_version is not None:
        console.info(f"Python:   {entry.python_version} (the version this {entry.label} implements)")
    console.info(f"Platform: {entry.platform}")
    console.info(f"Archive:  {archive}")
    console.info(f"Size:     {_size(entry.size)}")
    console.info(f"sha256:   {entry.sha256}")
    console.info(f"Manifest: {args.output / 'manifest.json'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    console = Console()
    location = args.manifest or os.environ.get("PYBUILDPACK_RUNTIME_MANIFEST") or default_manifest_location()
    try:
        manifest = load_manifest(location, relative_to=Path.cwd())
    except BuildError as error:
        console.error(error)
        return 1
    host = host_platform()
    usable = {*manifest.for_host(host).values(), *manifest.for_host(host, PYPY).values()}
    console.step(f"Runtimes in {manifest.location}")
    console.info(f"This host: {host.distro_tag} (also runs {host.portable_tag}); '*' = runs on this host")
    entries = sorted(manifest.entries, key=lambda e: (e.implementation, _version_key(e), e.platform))
    rows = [
        (
            "*" if entry in usable else "",
            entry.version,
            entry.platform,
            _size(entry.size),
            entry.implementation,
            entry.language_version,
        )
        for entry in entries
    ]
    header = ("", "VERSION", "PLATFORM", "SIZE", "IMPLEMENTATION", "PYTHON")
    for line in table_lines([header, *rows]):
        console.info(line)
    if not entries:
        console.info("(no runtimes)")
    if any(entry.implementation == PYPY for entry in entries):
        console.info("PYTHON: the Python version a PyPy release implements (PyPy support is experimental).")
    if any(entry.size is None for entry in entries):
        console.info("SIZE 'unknown': the manifest gives none (the archive's sha256 is still checked).")
    return 0


def _version_key(entry: RuntimeEntry) -> tuple[int, int, int]:
    return entry.version_tuple


def _size(size: int | None) -> str:
    if size is None:
        return "unknown"
    return f"{size / 1_000_000:.1f} MB"
