"""A local package index for the tests.

1. ``prepare_index()`` downloads every wheel named in ``tests/index-requirements.txt`` (with their
   dependencies) from the index this machine's pip is configured for, once, into the test cache
   (``wheelhouse-<hash of the requirement file>``), and writes a PEP 503 "simple" index next to it.
2. ``serve_index()`` serves that directory with ``http.server`` on 127.0.0.1 in a daemon thread.

Builds under test then point pip at ``PackageIndex.url`` with ``PIP_CONFIG_FILE=/dev/null``, so the
local index is their only source.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import HeaderParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support import TESTS
from support.cachedir import build_once, cache_root, digest, prune

REQUIREMENTS = TESTS / "index-requirements.txt"
# Bump when the on-disk layout below changes, so old cache entries are not reused.
LAYOUT_VERSION = "1"
WHEELS = "wheels"
SIMPLE = "simple"
DOWNLOAD_TIMEOUT = 900
_SECTION = re.compile(r"^\[(?P<pythons>[0-9a-z. ]+)\]$")
# A section for "ppX.Y" is PyPy implementing Python X.Y: every distribution listed (dependencies
# included, nothing is resolved), as a PyPy wheel or pure wheel, else as an sdist (PyPy builds it).
PYPY_PREFIX = "pp"


class IndexBuildError(RuntimeError):
    """The wheelhouse could not be downloaded (pip's output is in the message)."""


@dataclass(frozen=True)
class Section:
    pythons: tuple[str, ...]
    requirements: tuple[str, ...]


def parse_sections(path: Path = REQUIREMENTS) -> list[Section]:
    """Read ``[X.Y X.Y]`` sections of requirement lines (comments and blank lines ignored)."""
    sections: list[Section] = []
    pythons: tuple[str, ...] | None = None
    lines: list[str] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        header = _SECTION.match(line)
        if header:
            if pythons is not None:
                sections.append(Section(pythons, tuple(lines)))
            pythons, lines = tuple(header["pythons"].split()), []
        elif pythons is None:
            raise ValueError(f"{path}:{number}: requirement {line!r} before any [X.Y ...] section")
        else:
            lines.append(line)
    if pythons is not None:
        sections.append(Section(pythons, tuple(lines)))
    return sections


def requirements_by_python(sections: Sequence[Section]) -> dict[str, list[str]]:
    """Merge sections into one requirement list per target Python (order kept, duplicates dropped)."""
    merged: dict[str, list[str]] = {}
    for section in sections:
        for python in section.pythons:
            wanted = merged.setdefault(python, [])
            wanted.extend(r for r in section.requirements if r not in wanted)
    return merged


def normalize(name: str) -> str:
    """PEP 503 project name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(filename: str) -> str:
    return normalize(filename.split("-", 1)[0])


def platform_tags() -> list[str]:
    machine = platform.machine() or "x86_64"
    return [f"manylinux_2_28_{machine}", f"manylinux2014_{machine}", f"linux_{machine}", "any"]


def pip_download_command(python_version: str, requirements: Sequence[str], dest: Path) -> list[str]:
    if python_version.startswith(PYPY_PREFIX):
        return pypy_download_command(python_version.removeprefix(PYPY_PREFIX), requirements, dest)
    command = [
        sys.executable, "-m", "pip", "download",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
    ]  # fmt: skip
    for tag in platform_tags():
        command += ["--platform", tag]
    return [*command, "--dest", str(dest), *requirements]


def pypy_download_command(python_version: str, requirements: Sequence[str], dest: Path) -> list[str]:
    """`pip download --no-deps` for PyPy: sdists allowed where no PyPy or pure wheel exists."""
    abi = f"pypy{python_version.replace('.', '')}_pp73"
    command = [
        sys.executable, "-m", "pip", "download",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-deps",
        "--implementation", "pp", "--python-version", python_version, "--abi", abi, "--abi", "none",
    ]  # fmt: skip
    for tag in platform_tags():
        command += ["--platform", tag]
    return [*command, "--dest", str(dest), *requirements]


def _download_one(python_version: str, requirements: Sequence[str], dest: Path) -> None:
    """``pip download`` with this machine's pip settings (environment and config files inherited)."""
    dest.mkdir(parents=True, exist_ok=True)
    command = pip_download_command(python_version, requirements, dest)
    try:
        proc = subprocess.run(
            command,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        message = f"pip download for Python {python_version} timed out ({exc.timeout} s)"
        raise IndexBuildError(message) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise IndexBuildError(
            f"pip download for Python {python_version} failed (exit {proc.returncode}):\n"
            f"$ {' '.join(command)}\n{tail}"
        )


def download_wheels(sections: Sequence[Section], wheels: Path, jobs: int = 3) -> None:
    """Download every section's wheels for each of its Pythons into ``wheels`` (flat)."""
    by_python = requirements_by_python(sections)
    scratch = wheels.parent / ".downloads"
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(_download_one, python, requirements, scratch / python)
            for python, requirements in by_python.items()
        ]
        for future in futures:
            future.result()
    wheels.mkdir(parents=True, exist_ok=True)
    for found in sorted([*scratch.glob("*/*.whl"), *scratch.glob("*/*.tar.gz")]):
        target = wheels / found.name
        if not target.exists():
            found.rename(target)
    shutil.rmtree(scratch)


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def requires_python(wheel: Path) -> str | None:
    """The ``Requires-Python`` of a wheel's METADATA, if any (None for an sdist)."""
    if not wheel.name.endswith(".whl"):
        return None
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if not names:
            return None
        text = archive.read(names[0]).decode("utf-8", "replace")
    value = HeaderParser().parsestr(text).get("Requires-Python")
    return value.strip() if value else None


def _page(title: str, links: list[str]) -> str:
    body = "\n".join(links)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _file_link(wheel: Path) -> str:
    href = f"../../{WHEELS}/{wheel.name}#sha256={sha256_file(wheel)}"
    attributes = f'href="{html.escape(href)}"'
    python = requires_python(wheel)
    if python:
        attributes += f' data-requires-python="{html.escape(python)}"'
    return f"<a {attributes}>{html.escape(wheel.name)}</a><br>"


def write_simple_index(root: Path) -> list[str]:
    """Write ``root/simple/`` (PEP 503) for the wheels in ``root/wheels``; return the project names."""
    projects: dict[str, list[Path]] = {}
    for wheel in sorted([*(root / WHEELS).glob("*.whl"), *(root / WHEELS).glob("*.tar.gz")]):
        projects.setdefault(wheel_project(wheel.name), []).append(wheel)
    simple = root / SIMPLE
    for name, wheels in sorted(projects.items()):
        (simple / name).mkdir(parents=True, exist_ok=True)
        page = _page(f"Links for {name}", [_file_link(w) for w in wheels])
        (simple / name / "index.html").write_text(page)
    root_links = [f'<a href="{name}/">{name}</a><br>' for name in sorted(projects)]
    simple.mkdir(parents=True, exist_ok=True)
    (simple / "index.html").write_text(_page("Simple index", root_links))
    return sorted(projects)


def wheelhouse_key(requirement_files: Sequence[Path]) -> str:
    parts: list[bytes | str] = [LAYOUT_VERSION, platform.machine()]
    parts += [path.read_bytes() for path in requirement_files]
    return digest(parts)


def prepare_index(requirements: Path = REQUIREMENTS, root: Path | None = None) -> Path:
    """The cached index directory (``wheels/`` + ``simple/``), downloading it first if needed."""
    cache = root if root is not None else cache_root()
    entry = cache / f"wheelhouse-{wheelhouse_key([requirements])}"

    def build(staging: Path) -> None:
        download_wheels(parse_sections(requirements), staging / WHEELS)
        write_simple_index(staging)

    build_once(entry, build)
    prune(cache, "wheelhouse-", keep=entry)
    return entry


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class PackageIndex:
    """A running local index: ``url`` is the PEP 503 root (``http://127.0.0.1:PORT/simple/``)."""

    root: Path
    host: str
    port: int
    _server: ThreadingHTTPServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{SIMPLE}/"

    @property
    def wheelhouse(self) -> Path:
        """The directory holding every served wheel (usable as ``--find-links`` too)."""
        return self.root / WHEELS

    def projects(self) -> list[str]:
        return sorted(p.name for p in (self.root / SIMPLE).iterdir() if p.is_dir())

    def files(self, project: str) -> list[Path]:
        return sorted(w for w in self.wheelhouse.glob("*.whl") if wheel_project(w.name) == normalize(project))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start_server(root: Path) -> PackageIndex:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return PackageIndex(root=root, host=str(host), port=int(port), _server=server, _thread=thread)


@contextlib.contextmanager
def serve_index(root: Path) -> Iterator[PackageIndex]:
    index = start_server(root)
    try:
        yield index
    finally:
        index.close()
