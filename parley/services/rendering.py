"""Steps 3 and 4 of the pipeline: resolve the model, check what it and this server can do,
and render the request to the model's tokens, with where each block ends."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from parley.domain.caching import Breakpoint
from parley.domain.catalog import Catalog, ModelEntry
from parley.domain.ports import Engine, RenderedPrompt
from parley.domain.prompt import Conversation, ModelAbilities, build_conversation
from parley.domain.tool_changes import tools_in_effect
from parley.domain.tool_policy import ToolPolicy
from parley.errors import InvalidRequestError
from parley.services.caching import request_breakpoints
from parley.services.validation import check_features
from parley.wire.messages import CountTokensParams


@dataclass(frozen=True)
class Rendered:
    entry: ModelEntry
    engine: Engine
    conversation: Conversation
    prompt: RenderedPrompt
    breakpoints: list[Breakpoint]
    policy: ToolPolicy


class Renderer:
    def __init__(self, catalog: Catalog, engines: Mapping[str, Engine]) -> None:
        self._catalog = catalog
        self._engines = engines

    def engine_for(self, model: str) -> tuple[ModelEntry, Engine]:
        """The catalog entry a model name resolves to (404 if none) and its engine."""
        entry = self._catalog.resolve_for_inference(model)
        return entry, self._engines[entry.id]

    async def render(self, params: CountTokensParams, *, block_ends: bool = True) -> Rendered:
        """Rendering and tokenizing run off the event loop (a 20,000-token prompt takes about
        30 ms), so the streams being served meanwhile do not stall. `block_ends` False skips
        locating the blocks (counting needs only the tokens)."""
        entry, engine = self.engine_for(params.model)
        offered = tools_in_effect(params.tools, params.messages)
        policy = check_features(
            params.model_copy(update={"tools": offered}), entry, engine.tool_format
        )
        conversation = build_conversation(
            params.system,
            params.messages,
            ModelAbilities(image_input=entry.image_input),
            params.tools,
            engine.tool_format,
        )
        breakpoints = request_breakpoints(params, conversation)  # its 400s, also for counting
        prompt = await asyncio.to_thread(engine.render, conversation, block_ends=block_ends)
        if len(prompt.tokens) > engine.context_window:
            raise InvalidRequestError(
                f"prompt is too long: {len(prompt.tokens)} tokens > {engine.context_window} maximum"
            )
        return Rendered(entry, engine, conversation, prompt, breakpoints, policy)
