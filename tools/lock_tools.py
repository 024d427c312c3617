"""Write the hash-pinned lock files the engine installs the package managers from (issue 11).

Usage: python tools/lock_tools.py UV_BINARY INDEX_URL [PLATFORM]

For each Python minor the tools support, `uv pip compile --generate-hashes` resolves each tool's whole
closure against INDEX_URL for that Python and PLATFORM (default: manylinux_x86_64), and writes
src/pybuildpack/data/locks/PLATFORM/TOOL-X.Y.txt. Every hash the index lists for a pinned version is
kept, so the lock holds for any file of that version the index serves. Run it against the index the
test suite serves (tests/support/index.py) or a full mirror, after changing a pin in data/*.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "pybuildpack" / "data"
MINORS = ("3.10", "3.11", "3.12", "3.13")
UV_PLATFORMS = {"manylinux_x86_64": "x86_64-manylinux_2_28", "manylinux_aarch64": "aarch64-manylinux_2_28"}


def wanted(tool: str, minor: str) -> list[str]:
    if tool == "pip":
        pins = json.loads((DATA / "pip.json").read_text())
        found = [f"pip=={pins['pip']}"]
        return found + ([f"setuptools=={pins['setuptools']}"] if minor in pins["setuptools_on"] else [])
    pins = json.loads((DATA / f"{tool}.json").read_text())
    return [f"{name}=={version}" for name, version in pins.items()]


def compile_lock(uv: str, index: str, platform: str, tool: str, minor: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.txt"
        source.write_text("\n".join(wanted(tool, minor)) + "\n")
        cmd = [
            uv, "pip", "compile", str(source), "--generate-hashes", "--no-header", "--no-annotate",
            "--python-version", minor, "--python-platform", UV_PLATFORMS[platform],
            "--index-url", index, "--no-config", "--quiet", "--cache-dir", str(Path(tmp) / "cache"),
        ]  # fmt: skip
        if tool == "pip":
            cmd.append("--no-deps")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tool} for {minor}: {done.stderr}")
    header = f"# {tool} closure for Python {minor} on {platform}: written by tools/lock_tools.py\n"
    return header + done.stdout


def main() -> int:
    uv, index = sys.argv[1], sys.argv[2]
    platform = sys.argv[3] if len(sys.argv) > 3 else "manylinux_x86_64"
    target = DATA / "locks" / platform
    target.mkdir(parents=True, exist_ok=True)
    for tool in ("pip", "poetry", "pipenv"):
        for minor in MINORS:
            (target / f"{tool}-{minor}.txt").write_text(compile_lock(uv, index, platform, tool, minor))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
