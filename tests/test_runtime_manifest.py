"""Runtime manifest: schema validation, relative URLs, platform preference, the shipped manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.runtime.manifest import (
    Manifest,
    RuntimeEntry,
    default_manifest_location,
    load_manifest,
)
from pybuildpack.runtime.platform import HostPlatform, host_platform, normalise_arch, parse_os_release

SHA = "ab" * 32
DEBIAN = HostPlatform("debian", "12", "x86_64")


def entry(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "implementation": "cpython",
        "version": "3.12.1",
        "platform": "debian-12-x86_64",
        "url": "cpython-3.12.1-debian-12-x86_64.tar.gz",
        "sha256": SHA,
        "size": 123,
        "layout": "prefix",
    }
    item.update(overrides)
    return item


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def load_error(tmp_path: Path, document: object) -> BuildError:
    write(tmp_path / "manifest.json", document)
    with pytest.raises(BuildError) as caught:
        load_manifest("manifest.json", relative_to=tmp_path)
    assert caught.value.failure_reason == "install-python"
    assert str(tmp_path / "manifest.json") in caught.value.headline
    return caught.value


def test_platform_tags_from_os_release(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n# comment\n', encoding="utf-8")
    host = host_platform(os_release)
    assert host.os_id == "ubuntu"
    assert host.version_id == "24.04"
    assert host.arch in {"x86_64", "aarch64"} or host.arch
    assert host.distro_tag == f"ubuntu-24.04-{host.arch}"
    assert host.portable_tag == f"linux-{host.arch}-gnu"


def test_platform_helpers(tmp_path: Path) -> None:
    assert normalise_arch("AMD64") == "x86_64"
    assert normalise_arch("arm64") == "aarch64"
    assert parse_os_release("ID='debian'\nVERSION_ID=12\n") == {"ID": "debian", "VERSION_ID": "12"}
    missing = host_platform(tmp_path / "nope")
    assert (missing.os_id, missing.version_id) == ("linux", "unknown")
    assert host_platform().distro_tag.count("-") >= 2


def test_relative_urls_resolve_against_the_manifest(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror dir"
    mirror.mkdir()
    write(
        mirror / "manifest.json",
        {
            "schema": 1,
            "runtimes": [
                entry(),
                entry(version="3.11.7", url="sub/x+y.tar.gz"),
                entry(version="3.10.1", url="https://example.invalid/a.tar.gz"),
            ],
        },
    )
    for location in (
        "mirror dir/manifest.json",
        str(mirror / "manifest.json"),
        (mirror / "manifest.json").as_uri(),
    ):
        manifest = load_manifest(location, relative_to=tmp_path)
        urls = [e.url for e in manifest.entries]
        assert urls[0] == (mirror / "cpython-3.12.1-debian-12-x86_64.tar.gz").as_uri()
        assert urls[1] == (mirror / "sub").as_uri() + "/x+y.tar.gz"
        assert urls[2] == "https://example.invalid/a.tar.gz"
    assert manifest.entries[0].version_tuple == (3, 12, 1)
    assert manifest.entries[0].size == 123


def test_exact_distro_preferred_over_portable() -> None:
    def make(version: str, platform: str, implementation: str = "cpython") -> RuntimeEntry:
        return RuntimeEntry(
            version, platform, f"file:///{version}-{platform}", SHA, None, "prefix", implementation
        )

    manifest = Manifest(
        "m",
        (
            make("3.12.1", "linux-x86_64-gnu"),
            make("3.12.1", "debian-12-x86_64"),
            make("3.13.0", "linux-x86_64-gnu"),
            make("3.11.7", "debian-11-x86_64"),
            make("3.11.8", "linux-aarch64-gnu"),
            make("3.10.0", "linux-x86_64-gnu", "pypy"),
        ),
    )
    chosen = manifest.for_host(DEBIAN)
    assert sorted(chosen) == [(3, 12, 1), (3, 13, 0)]
    assert chosen[(3, 12, 1)].platform == "debian-12-x86_64"
    assert chosen[(3, 13, 0)].platform == "linux-x86_64-gnu"
    assert manifest.versions(DEBIAN) == [(3, 12, 1), (3, 13, 0)]
    assert manifest.versions(HostPlatform("ubuntu", "24.04", "aarch64")) == [(3, 11, 8)]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "top level must be a JSON object"),
        ({"schema": 2, "runtimes": []}, "'schema' must be 1"),
        ({"schema": 1}, "'runtimes' must be a list"),
        ({"schema": 1, "runtimes": [], "extra": 1}, "unknown top-level field(s): extra"),
        ({"schema": 1, "runtimes": ["x"]}, "runtimes[0] must be an object"),
        ({"schema": 1, "runtimes": [entry(version="3.12")]}, "field 'version' must be X.Y.Z"),
        ({"schema": 1, "runtimes": [entry(version="3.09.1")]}, "'3.09.1'"),
        ({"schema": 1, "runtimes": [entry(sha256="abc")]}, "field 'sha256' must be 64 hexadecimal"),
        (
            {"schema": 1, "runtimes": [entry(layout="flat")]},
            "field 'layout' must be one of python-dir, prefix",
        ),
        ({"schema": 1, "runtimes": [entry(size="12")]}, "field 'size' must be a byte count or null"),
        ({"schema": 1, "runtimes": [entry(size=True)]}, "field 'size'"),
        ({"schema": 1, "runtimes": [entry(url=5)]}, "field 'url' must be a string"),
        ({"schema": 1, "runtimes": [entry(url="ftp://x/y.tar.gz")]}, "unsupported scheme ftp://"),
        ({"schema": 1, "runtimes": [entry(platform="Debian 12")]}, "field 'platform'"),
        ({"schema": 1, "runtimes": [entry(colour="red")]}, "unknown field(s): colour"),
        ({"schema": 1, "runtimes": [{k: v for k, v in entry().items() if k != "layout"}]}, "'layout'"),
        (
            {"schema": 1, "runtimes": [entry(), entry(url="b.tar.gz")]},
            "runtimes[1] (3.12.1 for debian-12-x86_64) repeats",
        ),
    ],
)
def test_invalid_manifests_name_location_entry_and_field(
    tmp_path: Path, document: object, expected: str
) -> None:
    error = load_error(tmp_path, document)
    assert expected in error.explanation
    assert "PYBUILDPACK_RUNTIME_MANIFEST" in error.fix


def test_entry_is_named_with_its_index_and_version(tmp_path: Path) -> None:
    error = load_error(tmp_path, {"schema": 1, "runtimes": [entry(), entry(version="3.13.0", sha256="zz")]})
    assert "runtimes[1] (version 3.13.0): field 'sha256'" in error.explanation
    assert "'zz'" in error.explanation


def test_control_characters_are_made_visible(tmp_path: Path) -> None:
    error = load_error(tmp_path, {"schema": 1, "runtimes": [entry(layout="prefix\x1b[2J")]})
    assert "\x1b" not in error.explanation
    assert "\\u001b" in error.explanation


def test_not_json_and_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{\n  'schema': 1\n}", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        load_manifest("manifest.json", relative_to=tmp_path)
    assert "not valid JSON" in caught.value.explanation
    assert "line 2" in caught.value.explanation
    (tmp_path / "manifest.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(BuildError) as caught:
        load_manifest("manifest.json", relative_to=tmp_path)
    assert "not UTF-8" in caught.value.explanation


def test_unreachable_manifest(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        load_manifest("missing/manifest.json", relative_to=tmp_path)
    assert str(tmp_path / "missing" / "manifest.json") in caught.value.headline
    assert "no such file" in caught.value.explanation
    with pytest.raises(BuildError) as caught:
        load_manifest(
            "http://127.0.0.1:9/manifest.json", relative_to=tmp_path, environ={"CURL_CONNECT_TIMEOUT": "1"}
        )
    assert "http://127.0.0.1:9/manifest.json" in caught.value.headline
    assert "cannot connect" in caught.value.explanation
    with pytest.raises(BuildError) as caught:
        load_manifest("s3://bucket/manifest.json", relative_to=tmp_path)
    assert "not supported" in caught.value.headline


def test_shipped_manifest_covers_supported_majors_for_x86_64() -> None:
    location = default_manifest_location()
    assert Path(location).is_file()
    manifest = load_manifest(location, relative_to=Path("/nonexistent"))
    for arch in ("x86_64", "aarch64"):
        versions = manifest.versions(HostPlatform("someos", "1", arch))
        assert {v[:2] for v in versions} >= {(3, 10), (3, 11), (3, 12), (3, 13), (3, 14)}
    for item in manifest.entries:
        assert item.layout == "python-dir"
        assert item.url.startswith("https://")
        assert item.url.endswith("install_only_stripped.tar.gz")
