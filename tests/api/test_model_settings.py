"""A [[models]] entry's chat_template and context_extension, with the packaged model's file
served under them: the template the setting names is the one the prompt is rendered in, a name
that is no format is refused at start-up, and a window past the trained one needs an extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from parley.app import create_app
from parley.domain.catalog import DEFAULT_MODEL
from parley.engine.llama.locate import model_path
from parley.settings import EngineSettings, ModelSource, Settings
from tests.helpers import create_keys, serve

SMOLLM = model_path(DEFAULT_MODEL.backend, Path("/nonexistent"))  # packaged: no data_dir needed
ASK = {"messages": [{"role": "user", "content": "Name three prime numbers."}]}


def settings(data_dir: Path, **entry: Any) -> Settings:
    source = ModelSource(id="smol-20250101", path=SMOLLM, **entry)
    return Settings(
        data_dir=data_dir,
        default_model=False,
        models=[source],
        engine=EngineSettings(threads=2, kv_cells=16384, max_sequences=1, queue_limit=2),
    )


async def test_the_chat_template_setting_renders_the_prompt_in_that_format(
    tmp_path: Path, tokens: Callable[[str], int]
) -> None:
    configured = settings(tmp_path, chat_template="gemma")
    create_keys(configured)
    async for raw in serve(create_app(configured)):
        counted = await raw.post(
            "/v1/messages/count_tokens", json={"model": "smol-20250101", **ASK}
        )
    gemma_format = (  # opened by the file's BOS token, which is SmolLM2's <|im_start|>
        "<|im_start|><start_of_turn>user\nName three prime numbers.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert counted.json() == {"input_tokens": tokens(gemma_format)}


async def test_a_chat_template_that_is_no_format_is_refused_at_start_up(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, chat_template="vicuna"))
    with pytest.raises(ValueError, match="chat_template 'vicuna' is neither a known format"):
        async with app.router.lifespan_context(app):
            pass


async def test_a_window_past_the_trained_one_is_refused_without_an_extension(
    tmp_path: Path,
) -> None:
    app = create_app(settings(tmp_path, context_window=16384))
    with pytest.raises(ValueError) as refused:
        async with app.router.lifespan_context(app):
            pass
    assert str(refused.value) == (
        "model 'smol-20250101': context_window 16384 is past the 8192 tokens it can attend to "
        "(trained on 8192); lower context_window or set context_extension (RoPE scaling: "
        "method and factor) in its [[models]] entry"
    )


async def test_a_yarn_extended_window_loads_and_serves_past_the_window_it_starts_from(
    tmp_path: Path,
) -> None:
    """Scaling from a 1024-token window by 2 (small, so the test prefills little): a
    2048-token window is accepted, and a prompt past 1024 tokens is answered."""
    extension = {"method": "yarn", "factor": 2.0, "trained_window": 1024}
    configured = settings(tmp_path, context_window=2048, context_extension=extension)
    create_keys(configured)
    body = {
        "model": "smol-20250101",
        "max_tokens": 2,
        "messages": [{"role": "user", "content": "Remember this. " * 400 + "Say hello."}],
    }
    async for raw in serve(create_app(configured)):
        answered = await raw.post(
            "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}, timeout=600
        )
    assert answered.status_code == 200, answered.text
    assert 1024 < answered.json()["usage"]["input_tokens"] < 2048
