"""Errors are data: each user-facing failure is a BuildError carrying its wording and report slug.

Wording lives next to the code that detects the problem, but always in the same three parts:
a headline (what was found), an explanation (why it is a problem) and a fix (what to do).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

QUOTE_LIMIT = 120  # characters of a quoted value shown in a message
LIST_LIMIT = 10  # items of a list of values shown in a message
DETAIL_LIMIT = 200  # characters of failure_detail kept for the build report
_LINE_LIMIT = 300  # safety net: characters per line of an error block
_PARAGRAPH_LINES = 22  # safety net: lines per paragraph (an error block stays under 50 lines)


@dataclass
class BuildError(Exception):
    """A handled failure: printed as an error block, recorded in the build report, exit 1."""

    headline: str
    explanation: str = ""
    fix: str = ""
    failure_reason: str = "internal-error::unhandled"
    failure_detail: str | None = None

    def __post_init__(self) -> None:
        if self.failure_detail is not None and len(self.failure_detail) > DETAIL_LIMIT:
            self.failure_detail = self.failure_detail[:DETAIL_LIMIT]

    def __str__(self) -> str:
        return self.headline

    def lines(self) -> list[str]:
        """The message as the lines of an error block (headline first, paragraphs separated).

        Messages quote app content through `quoted` and `cut_list`; as a safety net, each line and each
        paragraph is cut here too, so an error block always fits on a screen or two."""
        parts = [_cut_line(f"Error: {self.headline}")]
        for paragraph in (self.explanation, self.fix):
            if paragraph:
                parts.append("")
                parts.extend(_cut_paragraph(paragraph.rstrip("\n").split("\n")))
        return parts


def _cut_line(line: str) -> str:
    if len(line) <= _LINE_LIMIT:
        return line
    return f"{line[:_LINE_LIMIT]}... ({len(line) - _LINE_LIMIT:,} more characters not shown)"


def _cut_paragraph(lines: list[str]) -> list[str]:
    """At most _PARAGRAPH_LINES lines: the first ones and the last ones (a tool's output ends with
    what matters), with the number of lines left out between them."""
    if len(lines) > _PARAGRAPH_LINES:
        tail = _PARAGRAPH_LINES // 2
        head = _PARAGRAPH_LINES - tail
        hidden = f"... ({len(lines) - _PARAGRAPH_LINES:,} more lines not shown)"
        lines = [*lines[:head], hidden, *lines[-tail:]]
    return [_cut_line(line) for line in lines]


def visible(text: str) -> str:
    """Make invisible and control characters visible so a user can see what is really there.

    NUL becomes the symbol for NUL, other control and format characters (zero-width space, escape,
    no-break space, tab) become their ``\\uXXXX`` escape, so quoting a value can never move the cursor
    or hide part of it.
    """
    out = []
    for char in text:
        if char == "\0":
            out.append("\u2400")
        elif char == " ":
            out.append(char)
        elif unicodedata.category(char) in {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"}:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A value quoted for an error message: invisible characters made visible, and cut to `limit`
    characters (after escaping) with the number of characters left out."""
    if len(text) <= limit // 6:  # short enough whatever the escapes: the common case
        return f"'{visible(text)}'"
    shown: list[str] = []
    length = 0
    for used, char in enumerate(text):
        escaped = visible(char)
        if length + len(escaped) > limit:
            return f"'{''.join(shown)}...' ({len(text) - used:,} more characters not shown)"
        shown.append(escaped)
        length += len(escaped)
    return f"'{''.join(shown)}'"


def cut_list(items: Iterable[str], limit: int = LIST_LIMIT) -> list[str]:
    """The first `limit` items, then one line saying how many more there are."""
    shown: list[str] = []
    more = 0
    for item in items:
        if len(shown) < limit:
            shown.append(item)
        else:
            more += 1
    if more:
        shown.append(f"... and {more:,} more")
    return shown
