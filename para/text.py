"""Text from sessions on the way to a terminal.

A session writes its status, job files and logs itself; printed as they are, control
characters in them would reach the user's terminal: OSC sequences set the window title
or the clipboard, CSI sequences move the cursor or hide what follows. Everything para
shows from a session goes through ``printable`` first.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls (0x80-0x9f: 0x9b is a CSI
# introducer on its own in some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\n\t]+")


def printable(text: object, *, one_line: bool = True) -> str:
    """``text`` without control characters; with ``one_line``, also without newlines
    (a table cell or a label)."""
    value = _CONTROL.sub("", str(text))
    return _LINE_BREAKS.sub(" ", value) if one_line else value
