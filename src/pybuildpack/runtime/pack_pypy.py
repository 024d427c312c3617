"""Packing an installed PyPy (experimental) into a relocatable runtime archive.

PyPy finds its standard library from the real path of its executable, so a tree laid out like an
upstream PyPy release travels as it is:

    bin/pypyX.Y              the interpreter (RUNPATH $ORIGIN), and python, python3, pythonX.Y,
    bin/libpypyX.Y-c.so      pypy, pypy3 links to it; the library PyPy is built into
    lib/pypyX.Y/             the standard library, with an empty site-packages/
    include/pypyX.Y/         headers for C extensions (cpyext)

A distribution's PyPy (Debian's `pypy3` package) is spread over /usr and patched to install into
`dist-packages` and to take pip from /usr/share/python-wheels. Packing undoes what would break a
self-contained tree (see `_DEBIAN_EDITS`), bundles the wheels ensurepip needs, and then asks the packed
interpreter where it installs packages: an archive whose PyPy would install outside its own tree is
never written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pybuildpack import run
from pybuildpack.errors import BuildError, quoted
from pybuildpack.runtime import patchelf as patchelf_tool
from pybuildpack.runtime.manifest import FAILURE, PYPY, RuntimeEntry, Version, format_version

# Printed as JSON by the interpreter being packed (PyPy 3.x).
_QUERY = (
    "import json, os, sys, sysconfig\n"
    "paths = sysconfig.get_paths()\n"
    "print(json.dumps({'python': list(sys.version_info[:3]), 'pypy': list(sys.pypy_version_info[:3]),\n"
    "  'executable': os.path.realpath(sys.executable), 'stdlib': paths['stdlib'],\n"
    "  'include': paths['include'], 'multiarch': getattr(sys.implementation, '_multiarch', '')}))\n"
)
# What the packed tree must say about itself (run by the packed interpreter, cwd outside the tree).
_CHECK = (
    "import glob, json, os, platform, sys, sysconfig\n"
    "paths = sysconfig.get_paths()\n"
    "print(json.dumps({'implementation': platform.python_implementation(), 'prefix': sys.prefix,\n"
    "  'purelib': paths['purelib'], 'scripts': paths['scripts'], 'path': sys.path,\n"
    "  'pip': glob.glob(os.path.join(paths['stdlib'], 'ensurepip', '_bundled', 'pip-*.whl'))}))\n"
)
_SKIP_DIRS = {"__pycache__", "test", "idle_test", "site-packages", "dist-packages"}
_SKIP_FILES = {"EXTERNALLY-MANAGED"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_LINKS = ("pypy", "pypy3", "python", "python3")
_DEBIAN_WHEELS = "/usr/share/python-wheels"

# Debian's patches that point a PyPy at /usr: (file, Debian's text, the upstream behaviour). A file
# without the text is left alone (an upstream PyPy); the check of the packed tree catches the rest.
_DEBIAN_EDITS: tuple[tuple[str, str, str], ...] = (
    # install into lib/pypyX.Y/site-packages and bin/, as in a virtual environment (not local/...)
    (
        "sysconfig.py",
        '        if sys.base_prefix != sys.prefix or hasattr(sys, "real_prefix"):\n'
        "            # virtual environments\n",
        "        if True:  # pybuildpack: a relocatable PyPy installs into its own tree\n",
    ),
    ("site.py", "            if is_virtual_environment:\n", "            if True:  # pybuildpack\n"),
    (
        "distutils/command/install.py",
        "                    or is_virtual_environment()):",
        "                    or True):",
    ),
    # ensurepip bootstraps pip into this tree too (Debian refuses outside a virtual environment)
    ("ensurepip/__init__.py", "    _ensurepip_is_disabled_in_debian_for_system()\n", ""),
)


@dataclass(frozen=True)
class PyPyInfo:
    python: Version
    pypy: Version
    executable: Path
    stdlib: Path
    include: Path
    multiarch: str

    @property
    def short(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"


def inspect(interpreter: Path) -> PyPyInfo:
    result = run.capture([interpreter, "-c", _QUERY], env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    try:
        data = json.loads(result.output.strip().splitlines()[-1])
        return PyPyInfo(
            python=_triple(data["python"]),
            pypy=_triple(data["pypy"]),
            executable=Path(data["executable"]),
            stdlib=Path(data["stdlib"]),
            include=Path(data["include"]),
            multiarch=str(data["multiarch"]),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BuildError(
            f"Could not ask {interpreter} about its installation.",
            f"It exited with status {result.returncode}:\n{result.output.strip()[-2000:]}",
            "Check that this PyPy runs (`pypy3 -c 'import sysconfig'`).",
            FAILURE,
            "interpreter query failed",
        ) from exc


def _triple(value: object) -> Version:
    if not isinstance(value, list) or len(value) != 3 or not all(isinstance(part, int) for part in value):
        raise ValueError(f"not a version: {value!r}")
    return (value[0], value[1], value[2])


def archive_name(info: PyPyInfo, platform_tag: str) -> str:
    return f"pypy{info.short}-{format_version(info.pypy)}-{platform_tag}.tar.gz"


def build_tree(info: PyPyInfo, tree: Path, patchelf: str) -> None:
    """The relocatable tree of the PyPy `info` describes, checked by running it."""
    bin_dir = tree / "bin"
    bin_dir.mkdir(parents=True)
    name = f"pypy{info.short}"
    shutil.copyfile(info.executable, bin_dir / name)
    (bin_dir / name).chmod(0o755)
    for library in _needed_libraries(info, patchelf):
        shutil.copyfile(library, bin_dir / library.name)
        (bin_dir / library.name).chmod(0o644)
    patchelf_tool.patchelf(patchelf, ["--set-rpath", "$ORIGIN", str(bin_dir / name)])
    for link in (*_LINKS, f"python{info.short}"):
        (bin_dir / link).symlink_to(name)
    stdlib = tree / "lib" / name
    shutil.copytree(info.stdlib, stdlib, symlinks=True, ignore=_ignored)
    (stdlib / "site-packages").mkdir()
    if info.include.is_dir():
        shutil.copytree(info.include, tree / "include" / name, symlinks=True, ignore=_ignored)
    for relative, old, new in _DEBIAN_EDITS:
        _edit(stdlib / relative, old, new)
    _bundle_debian_wheels(stdlib / "ensurepip")
    check_tree(tree, info)


def _ignored(directory: str, names: list[str]) -> set[str]:
    base = Path(directory)
    return {
        name
        for name in names
        if name in _SKIP_FILES
        or name.endswith(_SKIP_SUFFIXES)
        or (name in _SKIP_DIRS and (base / name).is_dir())
        or name.startswith("plat-")
    }


def _needed_libraries(info: PyPyInfo, patchelf: str) -> list[Path]:
    """The libpypy*.so the interpreter links (beside it upstream, in /usr/lib/<multiarch> on Debian)."""
    result = run.capture([patchelf, "--print-needed", str(info.executable)], env={"PATH": "/usr/bin:/bin"})
    needed = [line.strip() for line in result.output.splitlines() if line.strip().startswith("libpypy")]
    here = info.executable.parent
    places = [here, here.parent / "lib", Path("/usr/lib") / info.multiarch, Path("/lib") / info.multiarch]
    found = []
    for library in needed:
        candidates = [place / library for place in places if (place / library).is_file()]
        if not candidates:
            raise BuildError(
                f"Could not find {quoted(library)}, the library {info.executable} is built into.",
                f"Looked in: {', '.join(str(place) for place in places)}.",
                "Install the complete PyPy (for Debian: `apt-get install pypy3`), then pack it again.",
                FAILURE,
                "pypy library missing",
            )
        found.append(Path(os.path.realpath(candidates[0])))
    return found


def _edit(path: Path, old: str, new: str) -> None:
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    if text.count(old) == 1:
        path.write_text(text.replace(old, new), encoding="utf-8")


def _bundle_debian_wheels(ensurepip: Path) -> None:
    """Debian's ensurepip takes pip and setuptools from /usr/share/python-wheels: copy them into
    ensurepip/_bundled (where pybuildpack and an upstream ensurepip look) and point ensurepip there."""
    init = ensurepip / "__init__.py"
    if not init.is_file() or _DEBIAN_WHEELS not in (text := init.read_text(encoding="utf-8")):
        return
    bundled = ensurepip / "_bundled"
    bundled.mkdir(exist_ok=True)
    for wheel in sorted(Path(_DEBIAN_WHEELS).glob("*.whl")):
        shutil.copyfile(wheel, bundled / wheel.name)
    here = "os.path.join(os.path.dirname(os.path.abspath(__file__)), '_bundled')"
    text = text.replace(f"'{_DEBIAN_WHEELS}/", "_BUNDLED + '/").replace(f"'{_DEBIAN_WHEELS}'", "_BUNDLED")
    text = text.replace(
        "\nimport os\n", f"\nimport os\n_BUNDLED = {here}  # pybuildpack: wheels in the tree\n", 1
    )
    init.write_text(text, encoding="utf-8")


def check_tree(tree: Path, info: PyPyInfo) -> None:
    """Run the packed interpreter: it must be PyPy, live in the tree, install into the tree and
    have a pip wheel to bootstrap from."""
    scratch = tempfile.mkdtemp(prefix="pypy-check-")
    try:
        result = run.capture(
            [tree / "bin" / "python", "-B", "-c", _CHECK],
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            cwd=Path(scratch),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for cached in sorted(tree.rglob("__pycache__")):  # PyPy writes some at startup, even with -B
            shutil.rmtree(cached, ignore_errors=True)
    problems = _tree_problems(tree, info, result.output)
    if problems:
        raise BuildError(
            f"The packed PyPy {format_version(info.pypy)} would not work on its own.",
            "Its interpreter, run from the packed tree, says:\n"
            + "\n".join(f"- {problem}" for problem in problems)
            + f"\n(exit status {result.returncode})",
            "This PyPy's layout is not one pybuildpack knows how to make relocatable. Pack an upstream "
            "PyPy release or Debian's pypy3 package.",
            FAILURE,
            "pypy not relocatable",
        )


def _tree_problems(tree: Path, info: PyPyInfo, output: str) -> list[str]:
    try:
        data = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"it did not run: {output.strip()[-1000:] or 'no output'}"]
    root = os.path.realpath(tree)
    expected = {
        "implementation": "PyPy",
        "prefix": root,
        "purelib": str(Path(root, "lib", f"pypy{info.short}", "site-packages")),
        "scripts": str(Path(root, "bin")),
    }
    problems = [
        f"{key} is {data.get(key)!r}, not {value!r}"
        for key, value in expected.items()
        if data.get(key) != value
    ]
    outside = [entry for entry in data.get("path", []) if entry and not str(entry).startswith(root + os.sep)]
    if outside:
        problems.append(f"sys.path reaches outside the tree: {', '.join(map(str, outside))}")
    if not data.get("pip"):
        problems.append("there is no pip wheel in ensurepip/_bundled")
    return problems


def entry_for(info: PyPyInfo, platform_tag: str, archive: Path, sha256: str, size: int) -> RuntimeEntry:
    return RuntimeEntry(
        version=format_version(info.pypy),
        platform=platform_tag,
        url=archive.resolve().as_uri(),
        sha256=sha256,
        size=size,
        layout="prefix",
        implementation=PYPY,
        python_version=format_version(info.python),
    )
