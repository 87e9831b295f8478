"""Text from warehouses and policies made safe to show: one line, no terminal escapes, no markdown or HTML."""

from __future__ import annotations

import re
import unicodedata

ERROR_LINE_LIMIT = 500
"""The longest error line the CLI prints or a PolicyError carries, in characters."""

_LINE_BREAKS = re.compile(r"[\n\r\t\v\f\x85\u2028\u2029]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]#|])")
_HTML = {"&": "&amp;", "<": "&lt;"}


def printable(text: str) -> str:
    """`text` on one line: line breaks become spaces, other control and format characters (ANSI escapes,
    bidirectional overrides) are shown as ``\\x1b``-style escapes."""
    flat = _LINE_BREAKS.sub(" ", text)
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in ("Cc", "Cf") else char
        for char in flat
    )


def one_line(text: str, limit: int = ERROR_LINE_LIMIT) -> str:
    """`printable(text)`, cut to `limit` characters with a note of how much was left out."""
    line = printable(text)
    if len(line) <= limit:
        return line
    kept = limit - 40  # room for the note
    return f"{line[:kept]} ... ({len(line) - kept} more characters)"


def markdown_text(text: str) -> str:
    """`printable(text)` as literal markdown: `<` and `&` are entity-escaped, markdown punctuation backslash-escaped,
    so data cannot add tags, links, headings or table cells."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", printable(text))
    return "".join(_HTML.get(char, char) for char in escaped)
