"""The assembler: stream events that always concatenate to the final content blocks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.domain.tools import HERMES, LLAMA3_JSON
from parley.services.assembly import Assembler
from parley.wire.messages import TextBlock, ToolUseBlock
from parley.wire.stream import ContentBlockDeltaEvent, InputJSONDelta, StreamEvent, TextDelta

CALL = '<tool_call>{"name": "get_weather", "input": {"city": "Paris"}}</tool_call>'


def run(assembler: Assembler, pieces: list[str]) -> tuple[list[StreamEvent], list[object], bool]:
    events: list[StreamEvent] = []
    for piece in pieces:
        events += assembler.feed(piece)
    rest, blocks, called = assembler.finish(complete=True)
    return events + rest, list(blocks), called


def streamed_text(events: list[StreamEvent]) -> str:
    return "".join(
        e.delta.text
        for e in events
        if isinstance(e, ContentBlockDeltaEvent) and isinstance(e.delta, TextDelta)
    )


def streamed_json(events: list[StreamEvent]) -> str:
    return "".join(
        e.delta.partial_json
        for e in events
        if isinstance(e, ContentBlockDeltaEvent) and isinstance(e.delta, InputJSONDelta)
    )


def chunks(text: str) -> st.SearchStrategy[list[str]]:
    cuts = st.lists(st.integers(0, len(text)), max_size=12).map(sorted)
    return cuts.map(lambda at: [text[a:b] for a, b in zip([0, *at], [*at, len(text)], strict=True)])


@given(st.data())
def test_auto_text_then_a_call_streams_the_text_and_one_tool_use(data: st.DataObject) -> None:
    text = "Let me check. " + CALL
    events, blocks, called = run(Assembler("auto", {"get_weather"}), data.draw(chunks(text)))
    assert called
    assert blocks[0] == TextBlock(text="Let me check.")
    assert isinstance(blocks[1], ToolUseBlock) and blocks[1].input == {"city": "Paris"}
    assert streamed_text(events) == "Let me check."
    assert json.loads(streamed_json(events)) == {"city": "Paris"}


@given(st.data())
def test_auto_without_a_call_streams_every_character(data: st.DataObject) -> None:
    text = "No tools needed <tool but not a call> here.  "
    events, blocks, called = run(Assembler("auto", {"get_weather"}), data.draw(chunks(text)))
    assert not called and blocks == [TextBlock(text=text)]
    assert streamed_text(events) == text


def test_a_call_of_an_unknown_tool_stays_text() -> None:
    text = CALL.replace("get_weather", "launch_rocket")
    _, blocks, called = run(Assembler("auto", {"get_weather"}), [text])
    assert not called and blocks == [TextBlock(text=text)]


@given(st.data())
def test_forced_input_streams_as_json_pieces_of_the_final_input(data: st.DataObject) -> None:
    text = '{"name": "get_weather", "input": {"city": "Paris", "n": [1, 2]} } '
    events, blocks, called = run(Assembler("forced", {"get_weather"}), data.draw(chunks(text)))
    assert called
    (block,) = blocks
    assert isinstance(block, ToolUseBlock) and block.input == {"city": "Paris", "n": [1, 2]}
    assert json.loads(streamed_json(events)) == block.input


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_calls_unless_disabled(parallel: bool) -> None:
    _, blocks, _ = run(Assembler("auto", {"get_weather"}, parallel), [CALL + CALL])
    assert len(blocks) == (2 if parallel else 1)


def test_a_call_opened_by_the_prefill_is_read_but_not_repeated() -> None:
    body = '{"name": "get_weather", "input": {"city": "Paris"}}</tool_call>'
    events, blocks, called = run(Assembler("auto", {"get_weather"}, opened="<tool_call>"), [body])
    assert called and streamed_text(events) == ""
    (block,) = blocks
    assert isinstance(block, ToolUseBlock) and block.input == {"city": "Paris"}


def cut(assembler: Assembler, pieces: list[str]) -> tuple[list[StreamEvent], list[object], bool]:
    """As `run`, for an answer that max_tokens or a stop sequence cut short."""
    events: list[StreamEvent] = []
    for piece in pieces:
        events += assembler.feed(piece)
    rest, blocks, called = assembler.finish(complete=False)
    return events + rest, list(blocks), called


@given(st.data())
def test_a_forced_call_cut_short_is_an_incomplete_tool_use_never_text(data: st.DataObject) -> None:
    text = '{"name": "get_weather", "input": {"city": "Paris", "unit": "cel'
    events, blocks, called = cut(Assembler("forced", {"get_weather"}), data.draw(chunks(text)))
    assert not called
    (block,) = blocks
    assert isinstance(block, ToolUseBlock) and block.name == "get_weather"
    assert block.input == {"city": "Paris"}
    assert streamed_text(events) == ""
    assert streamed_json(events) == '{"city": "Paris", "unit": "cel'


def test_a_forced_call_cut_inside_its_name_is_the_one_tool_it_can_become() -> None:
    events, blocks, called = cut(
        Assembler("forced", {"get_weather", "get_time"}), ['{"name": "get_w']
    )
    assert not called and streamed_text(events) == streamed_json(events) == ""
    (block,) = blocks
    assert isinstance(block, ToolUseBlock) and (block.name, block.input) == ("get_weather", {})


def test_a_forced_call_cut_before_its_name_is_decided_has_no_block() -> None:
    events, blocks, called = cut(
        Assembler("forced", {"get_weather", "get_time"}), ['{"name": "get_']
    )
    assert (events, blocks, called) == ([], [], False)


def test_a_forced_call_whole_when_cut_is_a_call() -> None:
    text = '{"name": "get_weather", "input": {"city": "Paris"}}'
    events, blocks, called = cut(Assembler("forced", {"get_weather"}), [text])
    (block,) = blocks
    assert called and isinstance(block, ToolUseBlock) and block.input == {"city": "Paris"}
    assert json.loads(streamed_json(events)) == {"city": "Paris"}


@given(st.data())
def test_hermes_calls_stream_as_tool_use_with_their_arguments(data: st.DataObject) -> None:
    call = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    text = f"Checking. <tool_call>\n{call}\n</tool_call>"
    assembler = Assembler("auto", {"get_weather"}, tool_format=HERMES)
    events, blocks, called = run(assembler, data.draw(chunks(text)))
    assert called and streamed_text(events) == "Checking."
    assert isinstance(blocks[1], ToolUseBlock) and blocks[1].input == {"city": "Paris"}


def test_a_forced_hermes_call_reads_its_arguments() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    events, blocks, called = run(Assembler("forced", {"get_weather"}, tool_format=HERMES), [text])
    (block,) = blocks
    assert called and isinstance(block, ToolUseBlock) and block.input == {"city": "Paris"}
    assert json.loads(streamed_json(events)) == {"city": "Paris"}


@given(st.data())
def test_llama3_holds_back_an_answer_that_may_be_a_call(data: st.DataObject) -> None:
    text = ' {"name": "get_weather", "parameters": {"city": "Paris"}}'
    assembler = Assembler("auto", {"get_weather"}, tool_format=LLAMA3_JSON)
    events, blocks, called = run(assembler, data.draw(chunks(text)))
    assert called and streamed_text(events) == ""
    (block,) = blocks
    assert isinstance(block, ToolUseBlock) and block.input == {"city": "Paris"}


@given(st.data())
def test_llama3_streams_an_answer_that_cannot_be_a_call(data: st.DataObject) -> None:
    text = "Paris is sunny {today}."
    assembler = Assembler("auto", {"get_weather"}, tool_format=LLAMA3_JSON)
    events, blocks, called = run(assembler, data.draw(chunks(text)))
    assert not called and blocks == [TextBlock(text=text)] and streamed_text(events) == text
