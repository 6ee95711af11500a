"""Popen(tee=...): a copy of the child's output as communicate() reads it.

``tee=True`` writes each chunk to the parent's ``sys.stdout`` or ``sys.stderr`` (the one
matching the child's stream) at once. ``tee=callable`` calls ``callable(name, data)``
with ``name`` ``"stdout"`` or ``"stderr"``: ``data`` is each chunk of bytes in binary
mode, each line (newlines translated as in the captured text) in text mode, a last line
without a newline coming when its stream ends.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Tee"]


class _Text:
    """One stream's chunks decoded, newlines translated, cut into lines on request."""

    __slots__ = ("decoder", "held", "partial")

    def __init__(self, encoding: str, errors: str | None) -> None:
        self.decoder = codecs.getincrementaldecoder(encoding)(errors or "strict")
        self.held = ""  # a last "\r" that may be the first half of "\r\n"
        self.partial = ""  # the start of a line still to come

    def text(self, data: bytes, final: bool = False) -> str:
        text = self.held + self.decoder.decode(data, final)
        self.held = ""
        if text.endswith("\r") and not final:
            text, self.held = text[:-1], "\r"
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def lines(self, data: bytes, final: bool = False) -> list[str]:
        *whole, last = (self.partial + self.text(data, final)).split("\n")
        found = [line + "\n" for line in whole]
        self.partial = "" if final else last
        if final and last:
            found.append(last)
        return found


class Tee:
    """The copy Popen makes of what communicate() reads from the child."""

    __slots__ = ("decoded", "target")

    def __init__(
        self,
        target: bool | Callable[[str, Any], object],
        text_mode: bool,
        encoding: str,
        errors: str | None,
    ) -> None:
        self.target = target
        self.decoded: dict[str, _Text] | None = None
        if text_mode:
            self.decoded = {name: _Text(encoding, errors) for name in ("stdout", "stderr")}

    def feed(self, name: str, data: bytes, final: bool = False) -> None:
        """Pass on a chunk read from the child's stream *name* (*final*: it has ended)."""
        target = self.target
        if self.decoded is None:
            if target is True:
                _echo_bytes(name, data)
            elif data:
                target(name, data)  # type: ignore[operator]
        elif target is True:
            _echo_text(name, self.decoded[name].text(data, final))
        else:
            for line in self.decoded[name].lines(data, final):
                target(name, line)  # type: ignore[operator]

    def end(self, name: str) -> None:
        """Stream *name* is finished: pass on what is left of its last line."""
        if self.decoded is not None:
            self.feed(name, b"", final=True)


def _parent(name: str) -> Any:
    return sys.stdout if name == "stdout" else sys.stderr


def _echo_bytes(name: str, data: bytes) -> None:
    stream = _parent(name)
    binary = getattr(stream, "buffer", None)
    if binary is None:
        _echo_text(name, data.decode(getattr(stream, "encoding", None) or "utf-8", "replace"))
        return
    stream.flush()  # what the parent wrote as text comes first
    binary.write(data)
    binary.flush()


def _echo_text(name: str, text: str) -> None:
    if text:
        stream = _parent(name)
        stream.write(text)
        stream.flush()
