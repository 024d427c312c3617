"""Tests of the test infrastructure itself: the local index, the runtime mirror, the build helpers."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import buildpack, cachedir, index, mirror
from support.index import PackageIndex
from support.mirror import RuntimeMirror

SECTIONS = index.parse_sections()


def _python_order(section: str) -> tuple[bool, list[int]]:
    """CPython X.Y first, then PyPy ppX.Y, each by version."""
    pypy = section.startswith(index.PYPY_PREFIX)
    return pypy, [int(n) for n in section.removeprefix(index.PYPY_PREFIX).split(".")]


TARGET_PYTHONS = sorted(index.requirements_by_python(SECTIONS), key=_python_order)


def clean_pip_env(home: Path) -> dict[str, str]:
    """The process environment without any PIP_* setting or config file: only what we pass counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


# --- the requirement file ------------------------------------------------------------------------


def test_requirements_pin_what_the_buildpack_installs() -> None:
    by_python = index.requirements_by_python(SECTIONS)
    for python in ("3.10", "3.11", "3.12", "3.13"):
        wanted = by_python[python]
        for pin in ("pip==26.3", "setuptools==70.3.0", "typing-extensions==4.15.0", "six==1.17.0"):
            assert pin in wanted, (python, pin)
        names = {re.split(r"[=<>!~ ;\[]", r, maxsplit=1)[0] for r in wanted}
        assert {"wheel", "flask", "gunicorn"} <= names
    assert "pip==21.3.1" in by_python["3.6"]
    assert "pip==20.3.4" in by_python["2.7"]
    assert any(r.startswith("pip==") for r in by_python["3.9"])
    for python, wanted in by_python.items():
        assert all("==" in r for r in wanted), f"unpinned requirement for {python}: {wanted}"


def test_index_serves_the_tool_pins_of_the_buildpack() -> None:
    """The engine's pip/setuptools pins (data/pip.json) are all on the index, for each Python."""
    pins = json.loads((buildpack.REPO / "src" / "pybuildpack" / "data" / "pip.json").read_text())
    by_python = index.requirements_by_python(SECTIONS)
    for python, wanted in by_python.items():
        minor = python.removeprefix(index.PYPY_PREFIX)  # PyPy gets the pins of the Python it implements
        tools = pins["end_of_life"].get(minor, {"pip": pins["pip"], "setuptools": pins["setuptools"]})
        assert f"pip=={tools['pip']}" in wanted, (python, tools)
        assert f"setuptools=={tools['setuptools']}" in wanted, (python, tools)


def test_parse_sections_rejects_lines_outside_a_section(tmp_path: Path) -> None:
    bad = tmp_path / "reqs.txt"
    bad.write_text("# comment\nsix==1.17.0\n[3.12]\npip\n")
    with pytest.raises(ValueError, match=r"reqs.txt:2: requirement 'six==1.17.0' before any"):
        index.parse_sections(bad)


def test_parse_sections_merges_per_python(tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("[3.12 3.13]\npip==1  # trailing comment\nsix\n\n[3.13]\nsix\nwheel\n")
    sections = index.parse_sections(reqs)
    assert sections == [
        index.Section(("3.12", "3.13"), ("pip==1", "six")),
        index.Section(("3.13",), ("six", "wheel")),
    ]
    merged = index.requirements_by_python(sections)
    assert merged == {"3.12": ["pip==1", "six"], "3.13": ["pip==1", "six", "wheel"]}


# --- the served index ----------------------------------------------------------------------------


def test_server_binds_loopback_only(package_index: PackageIndex) -> None:
    assert package_index.host == "127.0.0.1"
    assert package_index._server.socket.getsockname()[0] == "127.0.0.1"
    assert package_index.url == f"http://127.0.0.1:{package_index.port}/simple/"


def test_index_lists_flask_with_hashed_links(package_index: PackageIndex) -> None:
    root_page = buildpack.http_get(package_index.url)
    assert root_page.status == 200
    assert '<a href="flask/">flask</a>' in root_page.text
    assert '<a href="typing-extensions/">' in root_page.text  # PEP 503 normalized name
    page = buildpack.http_get(package_index.url + "flask/")
    assert page.status == 200
    links = re.findall(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page.text)
    assert links, page.text
    for href, sha256 in links:
        wheel = buildpack.http_get(package_index.url + "flask/" + href)
        assert wheel.status == 200
        assert hashlib.sha256(wheel.body).hexdigest() == sha256


def test_index_pages_carry_requires_python(package_index: PackageIndex) -> None:
    page = buildpack.http_get(package_index.url + "pip/").text
    assert re.search(r'pip-26\.3-[^"]*#sha256=[0-9a-f]{64}" data-requires-python="&gt;=3\.10"', page), page


def test_missing_project_is_404(package_index: PackageIndex) -> None:
    assert buildpack.http_get(package_index.url + "no-such-project/").status == 404


def test_real_pip_downloads_flask_from_the_index(package_index: PackageIndex, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    command = [
        sys.executable, "-m", "pip", "download", "--no-cache-dir", "--no-deps",
        "--index-url", package_index.url, "-d", str(dest), "flask",
    ]  # fmt: skip
    proc = subprocess.run(
        command, env=clean_pip_env(tmp_path), capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    downloaded = sorted(p.name for p in dest.iterdir())
    assert len(downloaded) == 1
    assert downloaded[0].startswith("flask-"), downloaded
    assert (package_index.wheelhouse / downloaded[0]).is_file()


@pytest.mark.parametrize("python", TARGET_PYTHONS)
def test_index_is_complete_for_each_target_python(
    package_index: PackageIndex, tmp_path: Path, python: str
) -> None:
    """Every requirement resolves, dependencies included, from the local index alone."""
    requirements = index.requirements_by_python(SECTIONS)[python]
    command = index.pip_download_command(python, requirements, tmp_path / "dest")
    command[4:4] = ["--no-cache-dir", "--index-url", package_index.url]
    proc = subprocess.run(
        command, env=clean_pip_env(tmp_path), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prepared_index_is_reused(package_index: PackageIndex) -> None:
    before = (package_index.root / cachedir.MARKER).stat().st_mtime_ns
    assert index.prepare_index() == package_index.root
    assert (package_index.root / cachedir.MARKER).stat().st_mtime_ns == before


# --- cache and locks -----------------------------------------------------------------------------


def test_build_once_builds_once_under_concurrency(tmp_path: Path) -> None:
    calls: list[int] = []

    def build(staging: Path) -> None:
        calls.append(1)
        time.sleep(0.3)
        (staging / "data").write_text("x")

    entry = tmp_path / "entry"
    threads = [threading.Thread(target=cachedir.build_once, args=(entry, build)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert calls == [1]
    assert (entry / "data").read_text() == "x"
    assert cachedir.is_complete(entry)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".entry.lock", "entry"]


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(staging: Path) -> None:
        (staging / "half").write_text("x")
        raise RuntimeError("boom")

    entry = tmp_path / "entry"
    with pytest.raises(RuntimeError, match="boom"):
        cachedir.build_once(entry, build)
    assert not entry.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".entry.lock"]


# --- runtime mirror ------------------------------------------------------------------------------


def test_find_interpreters_takes_newest_patch_per_major(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    for name, major in (("3.12.1", "3.12"), ("3.12.10", "3.12"), ("3.9.18", "3.9"), ("3.11.2", None)):
        (versions / name / "bin").mkdir(parents=True)
        if major:
            (versions / name / "bin" / f"python{major}").write_text("")
    (versions / "myenv").symlink_to(versions / "3.9.18")
    (versions / "3.13.0").symlink_to(versions / "3.9.18")
    found = mirror.find_interpreters(tmp_path)
    assert found == {"3.9": versions / "3.9.18", "3.12": versions / "3.12.10"}
    assert mirror.find_interpreters(tmp_path, ["3.12"]) == {"3.12": versions / "3.12.10"}
    assert mirror.find_interpreters(tmp_path / "nowhere") == {}


def test_merge_manifests_makes_one_mirror(tmp_path: Path) -> None:
    parts = []
    for version in ("3.13.0", "3.9.18"):
        part = tmp_path / f".pack-{version}"
        part.mkdir()
        name = f"cpython-{version}-debian-12-x86_64.tar.gz"
        (part / name).write_bytes(version.encode())
        entry = {"version": version, "platform": "debian-12-x86_64", "url": name, "layout": "prefix"}
        (part / "manifest.json").write_text(json.dumps({"schema": 1, "runtimes": [entry]}))
        parts.append(part)
    mirror.merge_manifests(parts, tmp_path)
    loaded = RuntimeMirror.load(tmp_path)
    assert [e["version"] for e in loaded.runtimes] == ["3.9.18", "3.13.0"]
    assert loaded.archive("3.13.0").read_bytes() == b"3.13.0"
    assert json.loads(loaded.manifest.read_text())["schema"] == 1


def test_mirror_helpers(tmp_path: Path) -> None:
    runtimes = [{"version": v, "url": f"{v}.tar.gz"} for v in ("3.12.1", "3.12.10", "3.9.18", "2.7.18")]
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": 1, "runtimes": runtimes}))
    loaded = RuntimeMirror.load(tmp_path)
    assert loaded.versions == [(2, 7, 18), (3, 9, 18), (3, 12, 1), (3, 12, 10)]
    assert loaded.majors() == ["2.7", "3.9", "3.12"]
    assert loaded.latest("3.12") == "3.12.10"
    assert loaded.has("3.9") and loaded.has("3.12.1") and not loaded.has("3.1") and not loaded.has("3.13")
    with pytest.raises(LookupError, match=r"no Python 3\.13"):
        loaded.latest("3.13")
    assert loaded.url.startswith("file://")


def test_runtime_mirror_archives_match_manifest(runtime_mirror: RuntimeMirror) -> None:
    assert runtime_mirror.versions, runtime_mirror.manifest.read_text()
    found = mirror.find_interpreters(mirror.pyenv_root(), mirror.wanted_majors())
    assert set(runtime_mirror.majors()) == set(found)
    for entry in runtime_mirror.runtimes:
        archive = runtime_mirror.archive(str(entry["version"]))
        assert archive.is_file(), entry
        assert archive.stat().st_size == entry["size"], entry
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == entry["sha256"], entry
        assert entry["layout"] in {"prefix", "python-dir"}, entry
        assert entry["platform"], entry
    for major in runtime_mirror.majors():
        assert runtime_mirror.latest(major) == found[major].name


# --- build helpers -------------------------------------------------------------------------------


def test_build_env_is_minimal_and_points_at_the_local_sources(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1/simple/"
    env = buildpack.make_build_env(tmp_path / "home", index_url=url, manifest="/m.json")
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == str(tmp_path / "home") and (tmp_path / "home").is_dir()
    assert env["PIP_INDEX_URL"] == url
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["PYBUILDPACK_RUNTIME_MANIFEST"] == "/m.json"
    assert env["NO_COLOR"] == "1"
    assert "STACK" not in env
    allowed = {"PATH", "HOME", "LANG", "NO_COLOR", "PIP_INDEX_URL", "PIP_CONFIG_FILE"}
    allowed |= {"PYBUILDPACK_RUNTIME_MANIFEST", *buildpack.CERTIFICATE_VARS}
    assert set(env) <= allowed


def test_compile_app_runs_a_script_like_a_platform(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("six\n")
    fake = tmp_path / "fake-compile"
    fake.write_text(
        'echo "args=$1|$2|$3"; echo "pwd=$(pwd)"; echo "cfg=$(cat "$3/SECRET")"\n'
        'echo "stack=${STACK-unset}"; echo oops >&2; touch "$2/cached"; exit 3\n'
    )
    env = buildpack.make_build_env(tmp_path / "home")
    workdir = tmp_path / "w"
    result = buildpack.compile_app(app, env=env, workdir=workdir, config={"SECRET": "a b"}, script=str(fake))
    assert result.returncode == 3 and not result.ok
    assert f"args={result.build_dir}|{result.cache_dir}|{result.env_dir}" in result.stdout
    assert f"pwd={result.build_dir}" in result.stdout
    assert "cfg=a b" in result.stdout and "stack=unset" in result.stdout
    assert result.stderr == "oops\n"
    assert (result.build_dir / "requirements.txt").read_text() == "six\n"
    again = result.recompile(script=str(fake))
    assert again.build_dir != result.build_dir
    assert again.cache_dir == result.cache_dir and (again.cache_dir / "cached").exists()
    assert "cfg=a b" in again.stdout
    with pytest.raises(AssertionError, match="exit 3"):
        again.check()


def test_app_source_finds_fixture_apps_by_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no app directory"):
        buildpack.app_source("no-such-fixture-app")
    assert buildpack.app_source(tmp_path) == tmp_path


def test_http_get_gives_up_after_bounded_attempts() -> None:
    port = buildpack.free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="no answer after 3 attempts"):
        buildpack.http_get(f"http://127.0.0.1:{port}/", timeout=1, attempts=3, delay=0.05)
    assert time.monotonic() - started < 10
