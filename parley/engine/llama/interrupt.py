"""Interrupting a llama_decode that is under way, so that an interactive request does not
wait for a step of batch work to end.

llama.cpp polls an abort callback between the graph's nodes (every few hundred microseconds)
and, when it answers true, stops the step and removes what the step wrote to the KV cache;
the caller then runs the same tokens again later. A Python callback would take the GIL on
every poll, hundreds of times a step, against the event loop. Instead the callback is the C
library's own `strlen`, whose ABI fits `bool (*)(void *)`: it is handed a two-byte buffer
that reads "" (length 0: go on) or "x" (length 1: stop), so setting the flag is one store
from Python and the poll never enters the interpreter.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import llama_cpp as llama

log = logging.getLogger(__name__)

ABORTED = 2  # what llama_decode returns when the callback stopped it


def _strlen_address() -> int | None:
    try:
        libc = ctypes.CDLL(None)
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


class Interrupt:
    """The flag one context's decode polls. `request()` may be called from any thread;
    the decode thread calls `clear()` before each step it allows to be interrupted."""

    def __init__(self, ctx: Any) -> None:
        self._flag = ctypes.create_string_buffer(2)
        address = _strlen_address()
        if address is None:
            log.warning("no C strlen to poll: batch steps run to their end")
            return
        self._callback = llama.ggml_abort_callback(address)  # kept alive with the context
        llama.llama_set_abort_callback(
            ctx, self._callback, ctypes.cast(self._flag, ctypes.c_void_p)
        )

    def request(self) -> None:
        self._flag[0] = b"x"

    def clear(self) -> None:
        self._flag[0] = b"\0"
