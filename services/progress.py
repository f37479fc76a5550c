"""A progress line for a terminal: one line redrawn in place with ``\\r`` while long work runs.

A shorter text would leave the end of the longer one behind (``\\r`` only moves the cursor), so every
redraw pads to the longest text drawn; ``done`` ends the line with what it last showed, so a final
count never sticks at an early one, and whatever is printed next starts a line of its own.
"""
from __future__ import annotations

from typing import Optional, TextIO


class ProgressLine:
    """Redraws one line on ``stream`` (None: draws nothing, as for a stream that is not a terminal)."""

    def __init__(self, stream: Optional[TextIO]) -> None:
        self.stream = stream
        self.width = 0
        self.shown = False

    def show(self, text: str) -> None:
        if self.stream is None:
            return
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))
        self.shown = True

    def done(self, text: Optional[str] = None) -> None:
        """End the line: with ``text`` drawn last, or emptied when ``text`` is None."""
        if self.stream is None or not self.shown:
            return
        self.show(text if text is not None else "")
        self.stream.write("\r" if text is None else "\n")
        self.stream.flush()
        self.shown = False
