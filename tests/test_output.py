from __future__ import annotations

import io

from pybuildpack.errors import BuildError, visible
from pybuildpack.output import Console, strip_ansi


def console(environ: dict[str, str]) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out, err, environ), out, err


def test_steps_and_tool_output_go_to_stdout_indented() -> None:
    con, out, err = console({})
    con.step("Installing Python 3.12.1")
    con.tool_line("Collecting flask")
    con.info("first\n\nthird")
    assert out.getvalue() == (
        "-----> Installing Python 3.12.1\n       Collecting flask\n       first\n       \n       third\n"
    )
    assert err.getvalue() == ""


def test_error_block_shape_on_stderr() -> None:
    con, out, err = console({})
    con.error(BuildError("Bad thing.", "Why it is bad.", "How to fix it."))
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "\n !     Error: Bad thing.\n !     \n !     Why it is bad.\n !     \n !     How to fix it.\n\n"
    )


def test_colour_only_when_forced_and_never_with_no_color() -> None:
    con, _, err = console({"FORCE_COLOR": "1"})
    con.warning("Careful.")
    assert "\033[1;33m !     Warning: Careful.\033[0m" in err.getvalue()
    con, _, err = console({"FORCE_COLOR": "1", "NO_COLOR": "1"})
    con.warning("Careful.")
    assert "\033[" not in err.getvalue()
    con, _, err = console({})  # StringIO is not a TTY
    con.error(BuildError("x"))
    assert "\033[" not in err.getvalue()
    assert strip_ansi("\033[1;31mred\033[0m") == "red"


def test_visible_shows_control_and_invisible_characters() -> None:
    assert visible("a\u200bb\x1b[0m\tc\u00a0\0") == "a\\u200bb\\u001b[0m\\u0009c\\u00a0\u2400"
