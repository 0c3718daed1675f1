"""Stop-sequence matching over streamed text, including matches that span several tokens."""

from __future__ import annotations

from collections.abc import Sequence


class StopMatcher:
    """Feeds decoded text; releases only text that cannot be the start of a stop sequence."""

    def __init__(self, stop_sequences: Sequence[str]) -> None:
        self._stops = [s for s in stop_sequences if s]
        self._held = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """Returns (text safe to emit, the stop sequence matched or None)."""
        buffer = self._held + text
        best: tuple[int, str] | None = None
        for stop in self._stops:
            at = buffer.find(stop)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, stop)
        if best is not None:
            self._held = ""
            return buffer[: best[0]], best[1]
        keep = self._longest_partial_suffix(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep], None

    def flush(self) -> str:
        """The text held back at the end of generation, which matched no stop sequence."""
        held, self._held = self._held, ""
        return held

    def _longest_partial_suffix(self, buffer: str) -> int:
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest
