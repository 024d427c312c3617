"""The runtime manifest: which CPython (and, experimentally, PyPy) archives exist, where, and their
sha256 (RUNTIMES.md schema 1).

An entry's `implementation` is `cpython` or `pypy` (others are accepted and ignored, for manifests
written by newer versions). A PyPy entry's `version` is the PyPy release (7.3.11) and its
`python_version` the Python version it implements (3.9.16); a CPython entry needs no
`python_version` (when given, it must equal `version`).

A manifest location is a path (relative to the app's build dir), a ``file://`` URL or an ``http(s)://``
URL. Archive URLs inside it are absolute or relative to the manifest's own location.
"""

from __future__ import annotations

import json
import os.path
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack import appfile
from pybuildpack.errors import BuildError, quoted, visible
from pybuildpack.runtime import _net
from pybuildpack.runtime.platform import HostPlatform

Version = tuple[int, int, int]

SCHEMA = 1
LAYOUTS = ("python-dir", "prefix")
URL_SCHEMES = ("file", "http", "https")
FAILURE = "install-python"
ENTRY_FIELDS = {"implementation", "version", "python_version", "platform", "url", "sha256", "size", "layout"}
CPYTHON = "cpython"
PYPY = "pypy"
REQUIRED_FIELDS = ("implementation", "version", "platform", "url", "sha256", "layout")
DEFAULTS = {"implementation": "cpython"}  # manifests written before the field existed
TOP_FIELDS = {"schema", "runtimes", "comment"}

_VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._+-]*")
_IMPLEMENTATION_RE = re.compile(r"[a-z][a-z0-9_-]*")

FIX = (
    "Fix the manifest, or point PYBUILDPACK_RUNTIME_MANIFEST at a valid one\n"
    "(RUNTIMES.md describes the format; `pybuildpack runtime pack` writes valid entries)."
)


def parse_version(text: str) -> Version | None:
    match = _VERSION_RE.fullmatch(text)
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class RuntimeEntry:
    version: str
    platform: str
    url: str
    sha256: str
    size: int | None
    layout: str
    implementation: str
    python_version: str | None = None  # PyPy: the Python version it implements

    @property
    def version_tuple(self) -> Version:
        parsed = parse_version(self.version)
        if parsed is None:  # entries are validated on load; this only guards hand-made ones
            raise ValueError(f"not an X.Y.Z version: {self.version!r}")
        return parsed

    @property
    def language_version(self) -> str:
        """The Python version it implements (for CPython, its version)."""
        return self.python_version or self.version

    @property
    def language_tuple(self) -> Version:
        parsed = parse_version(self.language_version)
        if parsed is None:
            raise ValueError(f"not an X.Y.Z version: {self.language_version!r}")
        return parsed

    @property
    def label(self) -> str:
        """`Python 3.12.1` or `PyPy 7.3.11` (for messages)."""
        return f"PyPy {self.version}" if self.implementation == PYPY else f"Python {self.version}"

    def to_json(self, *, url: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {"implementation": self.implementation, "version": self.version}
        if self.python_version is not None:
            document["python_version"] = self.python_version
        document.update(
            platform=self.platform,
            url=self.url if url is None else url,
            sha256=self.sha256,
            size=self.size,
            layout=self.layout,
        )
        return document


@dataclass(frozen=True)
class Manifest:
    location: str
    entries: tuple[RuntimeEntry, ...]

    def for_host(self, host: HostPlatform, implementation: str = CPYTHON) -> dict[Version, RuntimeEntry]:
        """Entries of one implementation that run here, by version (PyPy: its release); an exact
        distro build beats a portable one."""
        chosen: dict[Version, RuntimeEntry] = {}
        for tag in reversed(host.tags):  # portable first, then let the distro build override it
            for entry in self.entries:
                if entry.implementation == implementation and entry.platform == tag:
                    chosen[entry.version_tuple] = entry
        return chosen

    def versions(self, host: HostPlatform) -> list[Version]:
        return sorted(self.for_host(host))


def default_manifest_location() -> str:
    return str(Path(__file__).resolve().parent.parent / "data" / "runtime-manifest.json")


def load_manifest(location: str, *, relative_to: Path, environ: Mapping[str, str] | None = None) -> Manifest:
    resolved, base_url = resolve_location(location, relative_to)
    data = _read(resolved, base_url, environ)
    return parse_manifest(data, location=resolved, base_url=base_url)


def resolve_location(location: str, relative_to: Path) -> tuple[str, str]:
    """(location for messages, base URL for relative archive URLs)."""
    text = location.strip()
    kind = _location_scheme(text, location)
    if kind in URL_SCHEMES:
        return _net.shown_url(text), text
    if kind and len(kind) > 1:
        raise _location_error(
            location,
            f"Only a path, a file:// URL or an http(s):// URL can be used; this one starts with {kind}://.",
            "is not supported",
        )
    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # ~name of a user this machine does not know
        user = text.split("/", 1)[0]
        raise _location_error(
            location, f"{quoted(user[:64])} names no user with a home directory on this machine ({exc})."
        ) from exc
    if not path.is_absolute():
        path = relative_to / path
    path = Path(os.path.normpath(path))
    return str(path), path.as_uri()


def _location_scheme(text: str, location: str) -> str:
    control = next((char for char in text if ord(char) < 32 or ord(char) == 127), None)
    if control is not None:
        raise _location_error(
            location,
            f"It contains a control character ({visible(control)}) at position {text.index(control)}.",
        )
    try:
        return _net.scheme(text)
    except ValueError as exc:
        raise _location_error(location, f"It is not a valid URL: {exc}.") from exc


def _location_error(location: str, explanation: str, what: str = "cannot be used") -> BuildError:
    return BuildError(
        f"The runtime manifest location {quoted(_net.shown_url(location))} {what}.",
        explanation,
        "Set PYBUILDPACK_RUNTIME_MANIFEST to a path or a file://, http:// or https:// URL.",
        FAILURE,
        "invalid manifest location",
    )


def _read(location: str, base_url: str, environ: Mapping[str, str] | None) -> bytes:
    try:
        return _net.read_all(base_url, _net.settings(environ))
    except _net.DownloadError as exc:
        raise BuildError(
            f"Could not read the runtime manifest {visible(location)}.",
            f"Cause: {exc}.",
            "Check that the file or server is reachable, or point PYBUILDPACK_RUNTIME_MANIFEST\n"
            "at a reachable manifest.",
            FAILURE,
            "manifest unreachable",
        ) from exc


def parse_manifest(data: bytes, *, location: str, base_url: str) -> Manifest:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _invalid(location, f"it is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except json.JSONDecodeError as exc:
        raise _invalid(
            location, f"it is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # hostile input: huge numbers, deep nesting
        raise _invalid(location, f"it cannot be parsed: {appfile.parse_problem(exc)}.") from exc
    if not isinstance(document, dict):
        raise _invalid(location, f"the top level must be a JSON object, found {_kind(document)}.")
    _check_top(document, location)
    entries: list[RuntimeEntry] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, raw in enumerate(document["runtimes"]):
        entry = _entry(raw, index, location, base_url)
        key = (entry.implementation, entry.version, entry.platform)
        if key in seen:
            raise _invalid(
                location,
                f"runtimes[{index}] ({entry.version} for {entry.platform}) repeats runtimes[{seen[key]}].",
            )
        seen[key] = index
        entries.append(entry)
    return Manifest(location=location, entries=tuple(entries))


def _check_top(document: dict[str, Any], location: str) -> None:
    unknown = sorted(set(document) - TOP_FIELDS)
    if unknown:
        raise _invalid(location, f"unknown top-level field(s): {', '.join(unknown)}.")
    schema = document.get("schema")
    if schema != SCHEMA or isinstance(schema, bool):
        raise _invalid(location, f"field 'schema' must be {SCHEMA}, found {json.dumps(schema)}.")
    if not isinstance(document.get("runtimes"), list):
        raise _invalid(location, f"field 'runtimes' must be a list, found {_kind(document.get('runtimes'))}.")


def _entry(raw: object, index: int, location: str, base_url: str) -> RuntimeEntry:
    where = f"runtimes[{index}]"
    if not isinstance(raw, dict):
        raise _invalid(location, f"{where} must be an object, found {_kind(raw)}.")
    if isinstance(raw.get("version"), str):
        where = f"{where} (version {raw['version']})"
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise _invalid(location, f"{where} has unknown field(s): {', '.join(unknown)}.")
    raw = {**DEFAULTS, **raw}
    for field in REQUIRED_FIELDS:
        if not isinstance(raw.get(field), str):
            raise _invalid(
                location, f"{where}: field '{field}' must be a string, found {_kind(raw.get(field))}."
            )
    values: dict[str, str] = {field: raw[field] for field in REQUIRED_FIELDS}
    problem = _field_problem(values) or _language_problem(values["implementation"], values["version"], raw)
    if problem:
        raise _invalid(location, f"{where}: {problem}")
    size = raw.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise _invalid(
            location, f"{where}: field 'size' must be a byte count or null, found {json.dumps(size)}."
        )
    return RuntimeEntry(
        version=values["version"],
        platform=values["platform"],
        url=_absolute_url(values["url"], base_url, location, where),
        sha256=values["sha256"].lower(),
        size=size,
        layout=values["layout"],
        implementation=values["implementation"],
        python_version=raw.get("python_version"),
    )


def _language_problem(implementation: str, version: str, raw: Mapping[str, Any]) -> str | None:
    """A PyPy entry names the Python version it implements; a CPython one need not, and if it does,
    the two agree."""
    value = raw.get("python_version")
    if value is None:
        if implementation == PYPY:
            return "field 'python_version' (the Python version this PyPy implements, X.Y.Z) is missing."
        return None
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        shown = quoted(value) if isinstance(value, str) else _kind(value)
        return f"field 'python_version' must be X.Y.Z (numbers without leading zeros), found {shown}."
    if implementation == CPYTHON and value != version:
        return f"field 'python_version' ({value}) differs from 'version' ({version}) in a cpython entry."
    return None


def _field_problem(values: Mapping[str, str]) -> str | None:
    checks = (
        ("implementation", _IMPLEMENTATION_RE, "a lowercase name such as cpython"),
        ("version", _VERSION_RE, "X.Y.Z (numbers without leading zeros)"),
        ("platform", _PLATFORM_RE, "a tag such as linux-x86_64-gnu or debian-12-x86_64"),
        ("sha256", _SHA256_RE, "64 hexadecimal characters"),
    )
    for field, pattern, meaning in checks:
        value = values[field].lower() if field == "sha256" else values[field]
        if not pattern.fullmatch(value):
            return f"field '{field}' must be {meaning}, found {quoted(values[field])}."
    if values["layout"] not in LAYOUTS:
        return f"field 'layout' must be one of {', '.join(LAYOUTS)}, found {quoted(values['layout'])}."
    if not values["url"].strip():
        return "field 'url' is empty."
    return None


def _absolute_url(url: str, base_url: str, location: str, where: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in url):
        raise _invalid(
            location, f"{where}: field 'url' contains a control character ({_net.shown_url(url)})."
        )
    try:
        kind = _net.scheme(url)
        absolute = url if kind else urllib.parse.urljoin(base_url, url)
        urllib.parse.urlsplit(absolute).port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise _invalid(
            location, f"{where}: field 'url' is not a valid URL ({exc}): {_net.shown_url(url)}"
        ) from exc
    if kind and kind not in URL_SCHEMES:
        raise _invalid(
            location, f"{where}: field 'url' uses the unsupported scheme {kind}:// ({_net.shown_url(url)})."
        )
    return absolute


def _invalid(location: str, detail: str) -> BuildError:
    return BuildError(
        f"The runtime manifest {location} is invalid.",
        f"Problem: {detail}",
        FIX,
        FAILURE,
        "invalid manifest",
    )


def _kind(value: object) -> str:
    if value is None:
        return "null (or nothing)"
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)
