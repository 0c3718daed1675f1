"""Without `gguf`, a llama-server model is rendered with the server's own tokenizer
(`/props`, `/tokenize`): the same prompt tokens and block ends as the GGUF opened vocab-only,
so counting and cache planning do not depend on which one is configured."""

from __future__ import annotations

import pytest

from parley.domain.prompt import ModelAbilities, build_conversation
from parley.engine.llama.prompting import PromptRenderer, Tokenizer
from parley.engine.llama.vocab import GgufVocabulary
from parley.engine.remote.vocab import ServerVocabulary
from parley.wire.messages import MessageParam, TextBlockParam
from tests.llama_servers import LlamaServer, packaged_gguf

pytestmark = pytest.mark.slow

SYSTEM = [TextBlockParam.model_validate({"type": "text", "text": "Answer in French. ü ✓ 日本"})]
MESSAGES = [
    MessageParam.model_validate({"role": "user", "content": "Name a river."}),
    MessageParam.model_validate({"role": "assistant", "content": "La Seine."}),
    MessageParam.model_validate({"role": "user", "content": "Another one, please 🙂"}),
]


def test_the_servers_tokenizer_renders_as_the_gguf_does(replicas: list[LlamaServer]) -> None:
    conversation = build_conversation(SYSTEM, MESSAGES, ModelAbilities())
    vocab = GgufVocabulary(packaged_gguf())
    server = ServerVocabulary(replicas[0].url, timeout=10)
    try:
        local = PromptRenderer(vocab, template_of(vocab)).render(conversation)
        remote = PromptRenderer(server, template_of(server)).render(conversation)
    finally:
        vocab.close()
        server.close()
    assert remote.tokens == local.tokens
    assert remote.block_ends == local.block_ends
    assert None not in local.block_ends


def template_of(tokenizer: Tokenizer) -> str:
    """The chat template each side reads from its own metadata (the packaged file has one)."""
    template = tokenizer.metadata("tokenizer.chat_template")
    assert template is not None
    return template
