"""Renders a conversation with the model's own chat template (jinja, from the GGUF metadata)."""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from parley.domain.prompt import Conversation, Turn
from parley.errors import InvalidRequestError

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise TemplateError(message)


class ChatTemplate:
    """Turns a Conversation into prompt text; a final prefill is appended after the template's
    generation prompt, so the answer continues it without repeating it."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.now(UTC).strftime(fmt)
        self._template = env.from_string(source or CHATML)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, conversation: Conversation) -> str:
        try:
            text = self._render(conversation.turns)
        except TemplateError:
            text = self._render_with_system_folded(conversation.turns)
        return text + conversation.prefill

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
