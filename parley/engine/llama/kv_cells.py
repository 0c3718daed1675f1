"""The KV cells, as the scheduler changes them outside decoding: the prefix cache's operations,
and copies of one sequence's cells out to host RAM and back in (llama.cpp's per-sequence
state), the snapshots of the cache's colder tier.

A copy is tens of MB, so the scheduler makes it with its lock let go: only the decode thread
touches the cells.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable

import llama_cpp as llama
import numpy as np
import numpy.typing as npt

from parley.engine.llama.model import LlamaModel
from parley.engine.llama.prefix_cache import KvOp, Remove, Share


def _pointer(state: npt.NDArray[np.uint8]) -> ctypes._Pointer[ctypes.c_uint8]:
    return state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))


class KvCells:
    def __init__(self, model: LlamaModel) -> None:
        self._model = model

    def apply(self, ops: Iterable[KvOp]) -> None:
        memory = self._model.memory
        for op in ops:
            if isinstance(op, Remove):
                llama.llama_memory_seq_rm(memory, op.seq, op.start, op.end)
            elif isinstance(op, Share):
                llama.llama_memory_seq_cp(memory, op.source, op.target, 0, op.length)

    def state_size(self, seq: int) -> int:
        """The bytes `copy_out` needs for `seq`."""
        return int(llama.llama_state_seq_get_size(self._model.ctx, seq))

    def copy_out(self, seq: int, size: int) -> npt.NDArray[np.uint8] | None:
        """`seq`'s state in a fresh buffer of `size` bytes; None if llama.cpp wrote nothing.
        numpy leaves a fresh buffer's pages to the kernel: no zero-filling under the GIL."""
        state = np.empty(size, dtype=np.uint8)
        written = llama.llama_state_seq_get_data(self._model.ctx, _pointer(state), size, seq)
        return state[:written] if written else None

    def copy_in(self, state: npt.NDArray[np.uint8], seq: int) -> bool:
        """Loads `state` into `seq`; False if llama.cpp refused it."""
        loaded = llama.llama_state_seq_set_data(self._model.ctx, _pointer(state), len(state), seq)
        return bool(loaded)
