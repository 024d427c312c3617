"""The per-app log of `pybuildpack start`: line format, rotation at the limit, `logs -n`, `--tail`
across a rotation. Real files, a real writer thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pybuildpack.platform.applog import NAME, AppLog, follow, last_lines, matches


def test_lines_name_their_source_and_rotation_keeps_one_old_file(tmp_path: Path) -> None:
    log = AppLog(tmp_path / "logs", limit=400)
    for number in range(20):
        log.write("web.1", f"line {number}")
    log.write("system", "a crash")
    log.close()
    current, rotated = tmp_path / "logs" / NAME, tmp_path / "logs" / f"{NAME}.1"
    assert rotated.is_file() and current.stat().st_size < 400 + 100 and rotated.stat().st_size >= 400
    lines = last_lines(tmp_path / "logs", 1000)
    assert lines[-1].endswith(" pybuildpack[system]: a crash\n")
    numbers = [int(line.rsplit(" ", 1)[1]) for line in lines if " app[web.1]: " in line]
    assert numbers == list(range(numbers[0], 20)) and numbers[0] > 0  # in order; the oldest rotated away
    assert lines[0][:4].isdigit() and lines[0][23:25] == "Z "  # 2026-11-29T16:40:00.123Z
    assert last_lines(tmp_path / "logs", 2, "web") == lines[-3:-1]
    assert last_lines(tmp_path / "logs", 0) == []
    assert last_lines(tmp_path / "nothing", 5) == []


def test_matches_a_process_type_not_a_prefix_of_it() -> None:
    assert matches("2026 app[web.1]: x\n", "web") and matches("2026 app[web.1]: x\n", None)
    assert not matches("2026 app[webhook.1]: x\n", "web")
    assert not matches("2026 pybuildpack[system]: web.1 crashed\n", "web")


def test_follow_sees_new_lines_across_rotations(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    log = AppLog(directory, limit=10**6)
    log.write("web.1", "before following")
    seen: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in follow(directory, "worker", keep_going=lambda: not done.is_set(), poll=0.01):
            seen.append(line)
            if line.endswith("worker line 29\n"):
                return

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(1000):  # until the reader, which starts at the end of the log, is following
        log.write("worker.1", "ping")
        if seen:
            break
        time.sleep(0.01)
    log.limit = (directory / NAME).stat().st_size + 2000  # one rotation among the lines below
    for number in range(30):
        log.write("web.1", f"web line {number}")
        log.write("worker.1", f"worker line {number}")
    thread.join(timeout=60)
    done.set()
    thread.join(timeout=5)
    log.close()
    assert (directory / f"{NAME}.1").is_file()  # it rotated while being followed
    got = [line.rsplit(" ", 1)[1].strip() for line in seen if "worker line" in line]
    assert got == [str(number) for number in range(30)]  # every line once, in order
    assert not any("web line" in line for line in seen)
