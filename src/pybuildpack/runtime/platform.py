"""The host's platform, as the runtime manifest names it.

Two tags describe where an archive can run: ``<ID>-<VERSION_ID>-<arch>`` (linked against one distro's
shared libraries, read from /etc/os-release) and ``linux-<arch>-gnu`` (a portable glibc build).
The STACK variable is only a label and never decides which archive is used.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from pathlib import Path

_ARCH_ALIASES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86_64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
}


@dataclass(frozen=True)
class HostPlatform:
    os_id: str
    version_id: str
    arch: str

    @property
    def distro_tag(self) -> str:
        """A build linked against this distro release's shared libraries, e.g. ``debian-12-x86_64``."""
        return f"{self.os_id}-{self.version_id}-{self.arch}"

    @property
    def portable_tag(self) -> str:
        """A portable glibc build for this architecture, e.g. ``linux-x86_64-gnu``."""
        return f"linux-{self.arch}-gnu"

    @property
    def tags(self) -> tuple[str, str]:
        """Platform tags usable here, preferred first."""
        return (self.distro_tag, self.portable_tag)


def normalise_arch(machine: str) -> str:
    lowered = machine.strip().lower()
    return _ARCH_ALIASES.get(lowered, lowered)


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=VALUE lines, values optionally quoted (os-release(5)); comments and junk lines are skipped."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key.strip()] = value
    return fields


def host_platform(os_release: Path = Path("/etc/os-release")) -> HostPlatform:
    candidates = [os_release]
    if os_release == Path("/etc/os-release"):
        candidates.append(Path("/usr/lib/os-release"))
    fields: dict[str, str] = {}
    for candidate in candidates:
        try:
            fields = parse_os_release(candidate.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        break
    os_id = fields.get("ID", "").strip().lower() or "linux"
    version_id = fields.get("VERSION_ID", "").strip().lower() or "unknown"
    return HostPlatform(os_id=os_id, version_id=version_id, arch=normalise_arch(_platform.machine()))
