"""A Software Bill of Materials of an installed environment: CycloneDX JSON, for CNB launch layers.

Each distribution in site-packages is listed with its name and version (from its ``METADATA``) and a
``pkg:pypi`` package URL; the Python runtime itself is listed as ``pkg:generic/cpython``.
"""

from __future__ import annotations

import email.parser
import json
import re
from pathlib import Path

from pybuildpack.layout import site_packages_dirs

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.4"
_NORMALISE = re.compile(r"[-_.]+")


def components(python_home: Path) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    infos = (info for site in site_packages_dirs(python_home) for info in site.glob("*.dist-info"))
    for info in sorted(infos):
        name, version = _name_version(info)
        if name and version:
            purl_name = _NORMALISE.sub("-", name).lower()
            found[f"{purl_name}@{version}"] = {
                "type": "library",
                "name": name,
                "version": version,
                "purl": f"pkg:pypi/{purl_name}@{version}",
            }
    runtime = _runtime_version(python_home)
    if runtime:
        found[f"cpython@{runtime}"] = {
            "type": "application",
            "name": "cpython",
            "version": runtime,
            "purl": f"pkg:generic/cpython@{runtime}",
        }
    return [found[key] for key in sorted(found)]


def _name_version(info: Path) -> tuple[str, str]:
    try:
        text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
    except OSError:
        stem = info.name[: -len(".dist-info")]
        name, _, version = stem.partition("-")
        return name, version
    headers = email.parser.HeaderParser().parsestr(text)
    return str(headers.get("Name", "")).strip(), str(headers.get("Version", "")).strip()


def _runtime_version(python_home: Path) -> str | None:
    for header in python_home.glob("include/python*/patchlevel.h"):
        text = header.read_text(encoding="utf-8", errors="replace")
        match = re.search(r'#define PY_VERSION\s+"([^"]+)"', text)
        if match:
            return match[1]
    return None


def write_cyclonedx(python_home: Path, target: Path) -> None:
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "components": components(python_home),
    }
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
