"""Relocatable installs (D7): editable packages and path files keep working after the app moves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pybuildpack.relocate import relocatable_site_packages
from support.buildpack import BOOT, CompileResult
from support.mirror import RuntimeMirror

Compile = Callable[..., CompileResult]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def editable_app(root: Path, version: str) -> Path:
    """An app with two local editable packages: a src layout (a .pth path line) and a flat one (a finder)."""
    app = root / "editable-app"
    write(app / ".python-version", f"{version}\n")
    write(app / "requirements.txt", "-e ./libs/srclib\n-e ./libs/flatlib\n")
    for name, module in (("srclib", "libs/srclib/src/srclib"), ("flatlib", "libs/flatlib/flatlib")):
        write(
            app / "libs" / name / "pyproject.toml",
            '[build-system]\nrequires = ["setuptools==70.3.0"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "0.1"\n',
        )
        write(app / module / "__init__.py", f"NAME = {name!r}\n")
    return app


def run_in(app_dir: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(app_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["sh", "-c", BOOT, "sh", command],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def site_files(app_dir: Path) -> list[Path]:
    site = next((app_dir / ".heroku" / "python" / "lib").glob("python*/site-packages"))
    return [
        p for p in site.iterdir() if p.suffix in {".pth", ".egg-link"} or p.name.startswith("__editable__")
    ]


def test_editable_packages_import_after_the_app_moves(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    if not runtime_mirror.has("3.12"):
        pytest.skip("the test runtime mirror has no Python 3.12")
    result = compile_app(editable_app(tmp_path, "3.12")).check()
    build = result.build_dir
    python_home = build / ".heroku" / "python"
    relocatable_site_packages(python_home, build)  # a no-op when bin/compile already did it
    assert relocatable_site_packages(python_home, build) == []
    for path in site_files(build):
        assert str(build) not in path.read_text(), path.name

    moved = tmp_path / "elsewhere" / "app"
    moved.parent.mkdir()
    shutil.move(build, moved)
    probe = run_in(
        moved, "python -c 'import srclib, flatlib; print(srclib.__file__); print(flatlib.__file__)'"
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines == [
        str(moved / "libs/srclib/src/srclib/__init__.py"),
        str(moved / "libs/flatlib/flatlib/__init__.py"),
    ]


def test_path_files_and_finders_are_rewritten_relative_to_site_packages(tmp_path: Path) -> None:
    build = tmp_path / "build"
    home = build / ".heroku" / "python"
    site = home / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (build / "pkg" / "src" / "mod").mkdir(parents=True)
    (build / "pkg" / "src" / "mod" / "__init__.py").write_text("VALUE = 42\n")
    (site / "__editable__.pkg-1.pth").write_text(f"{build}/pkg/src\n")
    (site / "other.pth").write_text("/usr/lib/somewhere\nimport os\n")
    (site / "pkg.egg-link").write_text(f"{build}/pkg\n.")
    finder = site / "__editable___pkg_1_finder.py"
    finder.write_text(
        "from __future__ import annotations\n"
        f"MAPPING: dict[str, str] = {{'mod': {str(build / 'pkg/src/mod')!r}}}\n"
        f"NAMESPACES: dict[str, list[str]] = {{'ns': [{str(build / 'ns')!r}]}}\n"
        "OUTSIDE = '/usr/share'\n"
    )

    rewritten = relocatable_site_packages(home, build)

    prefix = "lib/python3.12/site-packages/"
    assert rewritten == [
        f"{prefix}__editable__.pkg-1.pth",
        f"{prefix}__editable___pkg_1_finder.py",
        f"{prefix}pkg.egg-link",
    ]
    assert (site / "__editable__.pkg-1.pth").read_text() == "../../../../../pkg/src\n"
    assert (site / "other.pth").read_text() == "/usr/lib/somewhere\nimport os\n"
    assert (site / "pkg.egg-link").read_text() == "../../../../../pkg\n."
    moved = tmp_path / "moved"
    build.rename(moved)
    namespace: dict[str, object] = {"__file__": str(moved / ".heroku/python" / prefix / finder.name)}
    exec(compile((moved / ".heroku/python" / prefix / finder.name).read_text(), "finder", "exec"), namespace)
    assert namespace["MAPPING"] == {"mod": str(moved / "pkg/src/mod")}
    assert namespace["NAMESPACES"] == {"ns": [str(moved / "ns")]}
    assert namespace["OUTSIDE"] == "/usr/share"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import site, sys; site.addsitedir(sys.argv[1]); import mod; print(mod.VALUE)",
            str(moved / ".heroku/python" / prefix),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout == "42\n"
