"""A conversation -> the model's prompt tokens, with where each request block ends: the chat
template from the GGUF metadata, then the model's tokenizer. The in-process engine and the
remote engines share it, so counting, usage and cache planning are exact to the token
whichever of them runs the model."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Protocol

from parley.domain.ports import RenderedPrompt
from parley.domain.prompt import Conversation
from parley.engine.llama.chat import ChatTemplate


class Tokenizer(Protocol):
    """What rendering needs of a vocabulary: a GGUF's, or a remote server's."""

    add_bos: bool
    bos: int
    eos: int

    def metadata(self, key: str) -> str | None: ...

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]: ...

    def token_text(self, token: int, *, special: bool = False) -> bytes: ...


class PromptRenderer:
    def __init__(self, tokenizer: Tokenizer, template: str) -> None:
        """`template`: the Jinja chat template chosen for the model (engine/llama/templates.py)."""
        self._tokenizer = tokenizer
        self._template = ChatTemplate(
            template,
            bos_token=tokenizer.token_text(tokenizer.bos, special=True).decode(),
            eos_token=tokenizer.token_text(tokenizer.eos, special=True).decode(),
        )
        self._pieces: dict[int, bytes] = {}

    def render(self, conversation: Conversation, *, block_ends: bool = True) -> RenderedPrompt:
        text = self._template.render(conversation)
        bos = self._tokenizer.bos
        tokens = self._tokenizer.tokenize(text, add_bos=self._tokenizer.add_bos)
        if len(tokens) > 1 and tokens[0] == tokens[1] == bos:
            del tokens[0]  # the template wrote a BOS of its own
        ends: list[int | None] = [None] * len(conversation.blocks)
        if block_ends and conversation.blocks:
            offsets = self._template.block_ends(conversation, text)
            if None not in offsets:
                ends = self._token_positions(text, tokens, offsets)
        return RenderedPrompt(tokens, ends)

    def tokens_of(self, text: str) -> list[int]:
        """Plain text's tokens (no BOS), as the model would generate it."""
        return self._tokenizer.tokenize(text, add_bos=False)

    def piece(self, token: int) -> bytes:
        """The token's bytes as generated text (special tokens spelled out)."""
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self._tokenizer.token_text(token, special=True)
        return piece

    def _token_positions(
        self, text: str, tokens: list[int], offsets: Sequence[int | None]
    ) -> list[int | None]:
        """Character offsets in `text` -> how many tokens end at or before each: the token
        position of a block's end. Tokens spanning a block end belong to what follows it."""
        pieces = [self.piece(token) for token in tokens]
        token_ends = list(accumulate(len(piece) for piece in pieces))
        encoded = text.encode()
        lead = (token_ends[-1] if token_ends else 0) - len(encoded)  # e.g. a BOS's own text
        if lead < 0 or b"".join(pieces)[lead:] != encoded:
            return [None] * len(offsets)  # the tokenizer normalised the text: no exact map
        positions: list[int | None] = []
        done_chars = done_bytes = 0
        for offset in offsets:
            assert offset is not None and offset >= done_chars
            done_bytes += len(text[done_chars:offset].encode())
            done_chars = offset
            positions.append(bisect_right(token_ends, done_bytes + lead))
        return positions
