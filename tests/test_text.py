"""Text from sessions on its way to a terminal."""

from __future__ import annotations

from para.text import printable


def test_control_sequences_are_removed() -> None:
    hostile = "\x1b]0;title\x07\x1b]52;c;Y2xpcA==\x07\x1b[2J\x9b31mtask\x00\x7f"
    assert printable(hostile) == "]0;title]52;c;Y2xpcA==[2J31mtask"
    assert "\x1b" not in printable(hostile) and "\x9b" not in printable(hostile)


def test_lines_and_tabs() -> None:
    assert printable("a\nb\tc") == "a b c"
    assert printable("a\nb\tc", one_line=False) == "a\nb\tc"
    assert printable("über ✓") == "über ✓"
