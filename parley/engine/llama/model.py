"""Owns the llama.cpp model, vocabulary and context; nothing else touches these pointers."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp as llama

from parley.domain.catalog import ContextExtension
from parley.engine.llama.devices import FLASH_ATTN_TYPES, Offload

ROPE_SCALING = {
    "linear": llama.LLAMA_ROPE_SCALING_TYPE_LINEAR,
    "yarn": llama.LLAMA_ROPE_SCALING_TYPE_YARN,
}

_LOG_SILENT: Any = None


def _silence_llama_logs() -> None:
    """llama.cpp writes every load step to stderr; Parley keeps its own logs clean."""
    global _LOG_SILENT  # the C side keeps a pointer to this callback: it must outlive the call
    if _LOG_SILENT is None:
        _LOG_SILENT = llama.llama_log_callback(lambda level, text, user_data: None)
        llama.llama_log_set(_LOG_SILENT, ctypes.c_void_p(0))
        llama.llama_backend_init()


@dataclass(frozen=True)
class ContextShape:
    kv_cells: int
    sequence_ids: int
    batch_tokens: int
    threads: int
    extra_buffers: bool = False
    extension: ContextExtension | None = None


class LlamaModel:
    """A loaded GGUF with one context whose unified KV cache is shared by several sequences."""

    def __init__(self, path: Path, shape: ContextShape, offload: Offload) -> None:
        _silence_llama_logs()
        params = llama.llama_model_default_params()
        params.use_extra_bufts = shape.extra_buffers
        params.n_gpu_layers = offload.n_gpu_layers
        params.main_gpu = offload.main_gpu
        if offload.tensor_split:
            split = list(offload.tensor_split)[: llama.llama_max_devices()]
            self._tensor_split = (ctypes.c_float * llama.llama_max_devices())(*split)
            params.tensor_split = self._tensor_split
        self._model = llama.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise RuntimeError(f"could not load model file {path}")
        self.vocab = llama.llama_model_get_vocab(self._model)
        ctx_params = llama.llama_context_default_params()
        ctx_params.n_ctx = shape.kv_cells
        ctx_params.n_batch = shape.batch_tokens
        ctx_params.n_ubatch = shape.batch_tokens
        ctx_params.n_seq_max = shape.sequence_ids
        ctx_params.kv_unified = True
        ctx_params.n_threads = shape.threads
        ctx_params.n_threads_batch = shape.threads
        if shape.extension is not None:
            ctx_params.rope_scaling_type = ROPE_SCALING[shape.extension.method]
            ctx_params.rope_freq_scale = 1.0 / shape.extension.factor
            ctx_params.yarn_orig_ctx = shape.extension.trained_window or 0  # 0: the file's
        ctx_params.flash_attn_type = FLASH_ATTN_TYPES[offload.flash_attn]
        self.ctx = llama.llama_init_from_model(self._model, ctx_params)
        if not self.ctx:
            llama.llama_model_free(self._model)
            raise RuntimeError(f"could not create a llama.cpp context for {path}")
        self.memory = llama.llama_get_memory(self.ctx)
        self.shape = shape
        self.train_context = int(llama.llama_model_n_ctx_train(self._model))
        self.add_bos = bool(llama.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(llama.llama_vocab_bos(self.vocab))
        self.eos = int(llama.llama_vocab_eos(self.vocab))
        head_dim = llama.llama_model_n_embd(self._model) // llama.llama_model_n_head(self._model)
        kv_width = 2 * llama.llama_model_n_head_kv(self._model) * head_dim  # keys and values
        self.bytes_per_cell = int(llama.llama_model_n_layer(self._model) * kv_width * 2)  # f16

    def metadata(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama.llama_model_meta_val_str(self._model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (llama.llama_token * capacity)()
        n = llama.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_bos, True)
        if n < 0:
            capacity = -n
            tokens = (llama.llama_token * capacity)()
            n = llama.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_bos, True)
        return list(tokens[:n])

    def token_text(self, token: int, *, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = llama.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def is_special_token(self, text: str) -> bool:
        """Whether the vocabulary holds `text` (a turn marker) as one token of its own."""
        return len(self.tokenize(text, add_bos=False)) == 1

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self.ctx:
            llama.llama_free(self.ctx)
            self.ctx = None
        if self._model:
            llama.llama_model_free(self._model)
            self._model = None
