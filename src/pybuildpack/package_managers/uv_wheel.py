"""The uv binary without running pip (issue 11): the one file the engine fetches itself.

The uv wheel for this platform is pinned by exact file name and sha256 in data/uv-wheels.json. The
engine finds that file on the configured index's simple page (PIP_INDEX_URL, else the default index
of the runtime's own bundled pip), downloads it with the runtime downloader's deadlines, retries and
credentials (``user:password@`` in the URL or ~/.netrc), verifies it with PIP_CERT or SSL_CERT_FILE
as CA bundle, checks its sha256, and unzips the binary. Everything else is installed by uv from
hash-pinned lock files (data/locks/PLATFORM/TOOL-X.Y.txt).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html.parser
import json
import os
import platform
import re
import shutil
import tempfile
import urllib.parse
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pybuildpack.errors import BuildError
from pybuildpack.runtime import _net

_DEFAULT_INDEX = re.compile(rb'PyPI\s*=\s*PackageIndex\(\s*"(https://[^"]+)"')
MIN_GLIBC = (2, 28)  # the lock files' binary wheels are manylinux_2_28


@dataclass(frozen=True)
class PinnedWheel:
    version: str
    file: str
    sha256: str


def platform_key() -> str | None:
    """manylinux_<machine> on glibc Linux new enough for the locked wheels, else None."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    found = re.fullmatch(r"glibc (\d+)\.(\d+).*", libc)
    if not found or (int(found[1]), int(found[2])) < MIN_GLIBC:
        return None
    return f"manylinux_{platform.machine()}"


def pinned(key: str | None) -> PinnedWheel | None:
    data = json.loads(resources.files("pybuildpack").joinpath("data/uv-wheels.json").read_text("utf-8"))
    entry = data["wheels"].get(key or "")
    return PinnedWheel(data["version"], entry["file"], entry["sha256"]) if entry else None


def default_index(pip_wheel: Path) -> str | None:
    """The simple index the runtime's bundled pip uses when none is configured (read from the wheel:
    the engine names no index itself)."""
    try:
        with zipfile.ZipFile(pip_wheel) as wheel:
            text = wheel.read("pip/_internal/models/index.py")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    found = _DEFAULT_INDEX.search(text)
    return urllib.parse.urljoin(found[1].decode(), "simple/") if found else None


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def file_url(index: str, project: str, filename: str, config: _net.Settings) -> str | None:
    """The URL of `filename` on the index's simple page of `project`, or None if not listed."""
    page = urllib.parse.urljoin(index if index.endswith("/") else index + "/", f"{project}/")
    parser = _Links()
    parser.feed(_net.read_all(page, config, max_bytes=32 * 1024 * 1024).decode("utf-8", "replace"))
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page, href).split("#", 1)[0]
        if urllib.parse.unquote(url.rsplit("/", 1)[-1]) == filename:
            return url
    return None


def settings(env: Mapping[str, str], cafile: str | None) -> _net.Settings:
    return dataclasses.replace(_net.settings(env), cafile=cafile or env.get("SSL_CERT_FILE") or None)


def fetch_binary(wheel: PinnedWheel, indexes: list[str], config: _net.Settings, target: Path) -> None:
    """Download the pinned wheel from the first index that lists it (the index, then the extra
    indexes, as pip looks), verify it, and put its uv binary at target."""
    url, shown = _find(wheel, indexes, config)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="uv-wheel-", dir=target.parent) as scratch:
        path = Path(scratch) / wheel.file
        try:
            got = _download(url, config, path)
        except _net.DownloadError as exc:
            raise _error(wheel, f"Downloading {wheel.file} from {shown} failed: {exc}.") from exc
        if got != wheel.sha256:
            raise _error(
                wheel,
                f"{wheel.file} from {shown} has sha256 {got}, but pybuildpack pins sha256 {wheel.sha256}.",
                failure_detail="hash-mismatch",
            )
        _unzip_binary(wheel, path, target)


def _find(wheel: PinnedWheel, indexes: list[str], config: _net.Settings) -> tuple[str, str]:
    problems = []
    for index in indexes:
        shown = _net.shown_url(index)
        try:
            url = file_url(index, "uv", wheel.file, config)
        except _net.DownloadError as exc:
            problems.append(f"The simple page of uv on {shown} could not be read: {exc}.")
            continue
        if url is not None:
            return url, shown
        problems.append(f"{shown} does not list {wheel.file} on its simple page of uv.")
    raise _error(wheel, "\n".join(problems) or "No package index is configured.")


def _download(url: str, config: _net.Settings, path: Path) -> str:
    digest = hashlib.sha256()

    def attempt(deadline: _net.Deadline) -> None:
        nonlocal digest
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for chunk in _net.read_chunks(url, config, deadline):
                digest.update(chunk)
                out.write(chunk)

    _net.with_retries(attempt, config)
    return digest.hexdigest()


def _unzip_binary(wheel: PinnedWheel, path: Path, target: Path) -> None:
    member = f"uv-{wheel.version}.data/scripts/uv"
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as source:
            partial = target.with_name(f".{target.name}.partial")
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise _error(wheel, f"{wheel.file} has no {member}: {exc}.") from exc
    partial.chmod(0o755)
    partial.replace(target)


def _error(wheel: PinnedWheel, cause: str, *, failure_detail: str = "wheel-not-found") -> BuildError:
    return BuildError(
        f"Could not install uv {wheel.version} from its pinned wheel {wheel.file}.",
        f"{cause} The build installs uv only from this exact file, with sha256 {wheel.sha256}.",
        "Make the configured package index (PIP_INDEX_URL) serve this file unchanged, or set "
        "PYBUILDPACK_TOOLS_WITH_PIP=1 in the build's environment to install the tools with pip instead.",
        failure_reason="install-package-manager::uv",
        failure_detail=failure_detail,
    )
