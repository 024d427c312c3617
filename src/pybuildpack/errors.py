"""Errors are data: each user-facing failure is a BuildError carrying its wording and report slug.

Wording lives next to the code that detects the problem, but always in the same three parts:
a headline (what was found), an explanation (why it is a problem) and a fix (what to do).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass
class BuildError(Exception):
    """A handled failure: printed as an error block, recorded in the build report, exit 1."""

    headline: str
    explanation: str = ""
    fix: str = ""
    failure_reason: str = "internal-error::unhandled"
    failure_detail: str | None = None

    def __str__(self) -> str:
        return self.headline

    def lines(self) -> list[str]:
        """The message as the lines of an error block (headline first, paragraphs separated)."""
        parts = [f"Error: {self.headline}"]
        for paragraph in (self.explanation, self.fix):
            if paragraph:
                parts.append("")
                parts.extend(paragraph.rstrip("\n").split("\n"))
        return parts


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


def quoted(text: str) -> str:
    """A value quoted for an error message, with invisible characters made visible."""
    return f"'{visible(text)}'"
