from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pybuildpack.relocate import relocatable_shebangs


def test_scripts_run_after_the_directory_moves(tmp_path: Path) -> None:
    bin_dir = tmp_path / "build" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3").symlink_to(sys.executable)
    script = bin_dir / "hello"
    script.write_text(f"#!{bin_dir}/python3\nimport sys\nprint('hello from', sys.argv[0])\n")
    script.chmod(0o755)
    long_form = bin_dir / "long"
    long_form.write_text(f"#!/bin/sh\n'''exec' {bin_dir}/python3 \"$0\" \"$@\"\n' '''\nprint('long ok')\n")
    long_form.chmod(0o755)
    quoted_form = bin_dir / "quoted"  # uv's form for long paths: the interpreter in single quotes
    quoted_form.write_text(
        f"#!/bin/sh\n'''exec' '{bin_dir}/python3' \"$0\" \"$@\"\n' '''\nprint('quoted ok')\n"
    )
    quoted_form.chmod(0o755)
    other = bin_dir / "other"
    other.write_text("#!/bin/sh\necho other\n")

    assert relocatable_shebangs(bin_dir) == ["hello", "long", "quoted"]

    moved = tmp_path / "elsewhere"
    (tmp_path / "build").rename(moved)
    out = subprocess.run([moved / "bin" / "hello"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("hello from") and str(moved) in out
    assert (
        subprocess.run([moved / "bin" / "long"], capture_output=True, text=True, check=True).stdout
        == "long ok\n"
    )
    assert (
        subprocess.run([moved / "bin" / "quoted"], capture_output=True, text=True, check=True).stdout
        == "quoted ok\n"
    )
    assert (moved / "bin" / "other").read_text() == "#!/bin/sh\necho other\n"
    assert str(tmp_path / "build") not in (moved / "bin" / "hello").read_text()
