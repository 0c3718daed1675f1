"""A GGUF opened vocab-only: its tokenizer and metadata without weights or a context (a few
MB), for a remote engine that renders and counts prompts exactly as the server running the
same GGUF will."""

from __future__ import annotations

from pathlib import Path

import llama_cpp as llama

from parley.engine.llama.model import LlamaModel, _silence_llama_logs


class GgufVocabulary(LlamaModel):
    """The model's tokenizing and metadata methods over a vocab-only load; nothing to decode
    with (no context)."""

    def __init__(self, path: Path) -> None:  # no super().__init__: that loads the weights
        _silence_llama_logs()
        params = llama.llama_model_default_params()
        params.vocab_only = True
        self._model = llama.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise RuntimeError(f"could not open the vocabulary of {path}")
        self.ctx = None
        self.vocab = llama.llama_model_get_vocab(self._model)
        self.add_bos = bool(llama.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(llama.llama_vocab_bos(self.vocab))
        self.eos = int(llama.llama_vocab_eos(self.vocab))
