"""llama-server's own tokenizer over HTTP, for a remote model configured without its GGUF:
the chat template and special tokens from `GET /props`, tokens and their pieces from
`POST /tokenize`. Rendering runs off the event loop, so these calls block a worker thread."""

from __future__ import annotations

from typing import Any

import httpx


class ServerVocabulary:
    def __init__(self, url: str, timeout: float) -> None:
        self._client = httpx.Client(base_url=url, timeout=timeout)
        props = self._client.get("/props").raise_for_status().json()
        self._template: str | None = props.get("chat_template") or None
        self._pieces: dict[int, bytes] = {}
        self.bos = self._special(str(props.get("bos_token") or ""))
        self.eos = self._special(str(props.get("eos_token") or ""))
        self.add_bos = bool(self._tokenize("", add_special=True))

    def _special(self, text: str) -> int:
        tokens = self._tokenize(text, add_special=False)
        return tokens[0] if len(tokens) == 1 else -1

    def _tokenize(self, text: str, *, add_special: bool) -> list[int]:
        body = {"content": text, "add_special": add_special, "with_pieces": True}
        found: list[dict[str, Any]] = (
            self._client.post("/tokenize", json=body).raise_for_status().json()["tokens"]
        )
        tokens = []
        for item in found:
            piece = item["piece"]
            token = int(item["id"])
            self._pieces[token] = piece.encode() if isinstance(piece, str) else bytes(piece)
            tokens.append(token)
        return tokens

    def metadata(self, key: str) -> str | None:
        return self._template if key == "tokenizer.chat_template" else None

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return self._tokenize(text, add_special=add_bos)

    def token_text(self, token: int, *, special: bool = False) -> bytes:
        piece = self._pieces.get(token)
        if token < 0:  # the model has no such special token
            return b""
        if piece is None:
            body = {"tokens": [token]}
            content = self._client.post("/detokenize", json=body).raise_for_status().json()
            piece = self._pieces[token] = str(content["content"]).encode()
        return piece

    def close(self) -> None:
        self._client.close()
