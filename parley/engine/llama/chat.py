"""Renders a conversation with the model's own chat template (jinja, from the GGUF metadata)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from parley.domain.prompt import Conversation, Turn
from parley.errors import InvalidRequestError

MARK = re.compile("\ue000(\\d+)\ue001")


def _marked(text: str, marks: tuple[tuple[int, int], ...]) -> str:
    """`text` with an invisible marker after each block's end."""
    out, done = [], 0
    for block, end in marks:
        out += [text[done:end], f"\ue000{block}\ue001"]
        done = end
    return "".join([*out, text[done:]])


def _raise(message: str) -> None:
    raise TemplateError(message)


class ChatTemplate:
    """Turns a Conversation into prompt text; a final prefill is appended after the template's
    generation prompt, so the answer continues it without repeating it."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now(UTC).strftime(fmt)
        self._template = env.from_string(source)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, conversation: Conversation) -> str:
        try:
            text = self._render(conversation.turns)
        except TemplateError:
            text = self._render_with_system_folded(conversation.turns)
        return text + conversation.prefill

    def block_ends(self, conversation: Conversation, text: str) -> list[int | None]:
        """The character offset in `text` (this conversation's rendering) where each block of
        the request ends. The conversation is rendered once more with markers after each block;
        if the template changed anything but the markers (it trimmed content, say), the offsets
        cannot be trusted and every one is None, which only means nothing gets cached."""
        unknown: list[int | None] = [None] * len(conversation.blocks)
        if "\ue000" in text:
            return unknown
        marked = replace(
            conversation,
            turns=tuple(replace(t, text=_marked(t.text, t.marks)) for t in conversation.turns),
            prefill=_marked(conversation.prefill, conversation.prefill_marks),
        )
        plain: list[str] = []
        found: dict[int, int] = {}
        length = 0
        for index, piece in enumerate(MARK.split(self.render(marked))):
            if index % 2:
                found[int(piece)] = length
            else:
                plain.append(piece)
                length += len(piece)
        marked_blocks = {block for turn in marked.turns for block, _ in turn.marks}
        marked_blocks.update(block for block, _ in marked.prefill_marks)
        if "".join(plain) != text or set(found) != marked_blocks:
            return unknown
        ends: list[int | None] = []
        last = 0
        for block in range(len(conversation.blocks)):
            last = found.get(block, last)  # blocks that render nothing end where the last did
            ends.append(last)
        return ends

    def _render(self, turns: tuple[Turn, ...]) -> str:
        messages = [{"role": t.role, "content": t.text} for t in turns]
        return str(
            self._template.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=self._bos,
                eos_token=self._eos,
                tools=None,
            )
        )

    def _render_with_system_folded(self, turns: tuple[Turn, ...]) -> str:
        """Templates that refuse mid-conversation system turns get them as user turns."""
        folded: list[Turn] = []
        for index, turn in enumerate(turns):
            role = "user" if turn.role == "system" and index > 0 else turn.role
            if folded and folded[-1].role == role:
                folded[-1] = Turn(role, folded[-1].text + "\n\n" + turn.text)
            else:
                folded.append(Turn(role, turn.text))
        try:
            return self._render(tuple(folded))
        except TemplateError as exc:
            message = f"messages: the model's chat template refused them: {exc}"
            raise InvalidRequestError(message) from None
