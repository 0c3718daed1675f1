"""The request fields new in SDK 2.14 (reference §14), each implemented or refused as the
contract says, over a FakeEngine in this process."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes import FakeEngine
from tests.helpers import MODEL

QUESTION = {"role": "user", "content": "Which valve is open?"}
SCHEMA = {"type": "object", "properties": {"valve": {"type": "string"}}}
CLOCK = {"name": "get_time", "input_schema": {"type": "object"}}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 8, "messages": [QUESTION]} | fields


async def post(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    return await client.post("/v1/messages", json=body(**fields), headers=headers or {})


def error(response: httpx.Response) -> tuple[int, str, str, str | None]:
    found = response.json()["error"]
    return (
        response.status_code,
        found["type"],
        found["message"],
        (found.get("details") or {}).get("error_code"),
    )


async def test_billing_policy_self_bills_as_usual(fake_client: httpx.AsyncClient) -> None:
    policy = {"type": "billing_policy", "bill_to": "self"}
    assert (await post(fake_client, billing_policy=policy)).status_code == 200


async def test_billing_a_user_profile_needs_its_header(fake_client: httpx.AsyncClient) -> None:
    policy = {"type": "billing_policy", "bill_to": "user_profile"}
    assert error(await post(fake_client, billing_policy=policy)) == (
        400,
        "invalid_request_error",
        'billing_policy: bill_to "user_profile" needs the anthropic-user-profile-id header',
        "user_profile_required",
    )


async def test_no_user_profile_is_billable_here(fake_client: httpx.AsyncClient) -> None:
    policy = {"type": "billing_policy", "bill_to": "user_profile"}
    headers = {"anthropic-user-profile-id": "uprof_1"}
    assert error(await post(fake_client, headers, billing_policy=policy)) == (
        403,
        "permission_error",
        "billing_policy: user profile uprof_1 cannot be billed for this request",
        "user_profile_not_billable",
    )


async def test_default_fallbacks_run_on_the_requested_model_alone(
    fake_client: httpx.AsyncClient,
) -> None:
    assert (await post(fake_client, fallbacks="default")).status_code == 200


async def test_a_list_of_fallbacks_is_refused(fake_client: httpx.AsyncClient) -> None:
    response = await post(fake_client, fallbacks=[{"model": MODEL}])
    assert error(response) == (
        400,
        "invalid_request_error",
        f"fallbacks: model {MODEL} does not support fallbacks",
        None,
    )


async def test_a_strict_fallback_credit_token_is_refused(fake_client: httpx.AsyncClient) -> None:
    response = await post(fake_client, fallback_credit_token="fct_abc")
    assert error(response) == (
        400,
        "invalid_request_error",
        "fallback_credit_token: this token was not issued by this server",
        None,
    )


async def test_a_best_effort_fallback_credit_token_is_served_and_not_applied(
    fake_client: httpx.AsyncClient,
) -> None:
    token = {"token": "fct_abc", "mode": "best_effort"}
    response = await post(fake_client, fallback_credit_token=token)
    assert response.json()["usage"]["fallback_credit"] == {
        "status": {"type": "not_applied", "reason": "not_enabled"}
    }


async def test_a_fallback_credit_token_with_fallbacks_is_refused(
    fake_client: httpx.AsyncClient,
) -> None:
    token = {"token": "fct_abc", "mode": "best_effort"}
    response = await post(fake_client, fallback_credit_token=token, fallbacks="default")
    assert error(response)[:3] == (
        400,
        "invalid_request_error",
        "fallback_credit_token: cannot be combined with fallbacks",
    )


async def test_mcp_servers_are_refused_by_name(fake_client: httpx.AsyncClient) -> None:
    server = {"type": "url", "name": "docs", "url": "https://mcp.example.com/sse"}
    assert error(await post(fake_client, mcp_servers=[server])) == (
        400,
        "invalid_request_error",
        "mcp_servers: MCP connectors are not supported",
        None,
    )


async def test_a_task_budget_is_accepted(fake_client: httpx.AsyncClient) -> None:
    budget = {"type": "tokens", "total": 20000, "remaining": 15000}
    assert (await post(fake_client, output_config={"task_budget": budget})).status_code == 200


async def test_top_level_output_format_constrains_like_output_config_format(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    output_format = {"type": "json_schema", "schema": SCHEMA}
    assert (await post(fake_client, output_format=output_format)).status_code == 200
    constraint = fake_engine.requests[-1].answer
    assert constraint is not None and constraint.schema == SCHEMA


async def test_output_format_and_output_config_format_together_are_refused(
    fake_client: httpx.AsyncClient,
) -> None:
    output_format = {"type": "json_schema", "schema": SCHEMA}
    response = await post(
        fake_client, output_format=output_format, output_config={"format": output_format}
    )
    assert error(response)[:3] == (
        400,
        "invalid_request_error",
        "output_format: cannot be combined with output_config.format (use only the latter)",
    )


async def test_a_tool_added_mid_conversation_can_be_called(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    addition = {"type": "tool_addition", "tool": {"type": "tool_definition", "definition": CLOCK}}
    messages = [QUESTION, {"role": "system", "content": [addition]}]
    choice = {"type": "tool", "name": "get_time"}
    response = await post(fake_client, messages=messages, tool_choice=choice)
    assert response.status_code == 200
    assert fake_engine.requests[-1].answer is not None  # the forced call's constraint


async def test_a_tool_removed_mid_conversation_cannot_be_called(
    fake_client: httpx.AsyncClient,
) -> None:
    removal = {"type": "tool_removal", "tool": {"type": "tool_reference", "name": "get_time"}}
    messages = [QUESTION, {"role": "system", "content": [removal]}]
    choice = {"type": "tool", "name": "get_time"}
    weather = {"name": "get_weather", "input_schema": {"type": "object"}}
    tools = [CLOCK, weather]
    response = await post(fake_client, tools=tools, messages=messages, tool_choice=choice)
    assert error(response)[:3] == (
        400,
        "invalid_request_error",
        "tool_choice.name: no tool named 'get_time'",
    )


async def test_a_system_message_cleared_at_the_next_user_message_is_no_longer_shown(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    hint = {"role": "system", "content": "Answer in French.", "clear_at": "next_user_message"}
    answer = {"role": "assistant", "content": "The left one."}
    later = {"role": "user", "content": "Thanks."}
    await post(fake_client, messages=[QUESTION, hint, answer, later])
    cleared = fake_engine.requests[-1].prompt
    await post(fake_client, messages=[QUESTION, answer, later])
    assert fake_engine.requests[-1].prompt == cleared


async def test_a_system_message_is_shown_until_the_next_user_message(
    fake_client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    hint = {"role": "system", "content": "Answer in French.", "clear_at": "next_user_message"}
    await post(fake_client, messages=[QUESTION, hint])
    shown = fake_engine.requests[-1].prompt
    await post(fake_client, messages=[QUESTION])
    assert len(shown) == len(fake_engine.requests[-1].prompt) + 4  # "<system>" and 3 words


async def test_a_system_message_may_set_only_the_effort(fake_client: httpx.AsyncClient) -> None:
    effort = {"role": "system", "content": "", "output_config": {"effort": "low"}}
    assert (await post(fake_client, messages=[QUESTION, effort])).status_code == 200


async def test_clear_at_on_a_user_message_is_refused(fake_client: httpx.AsyncClient) -> None:
    response = await post(fake_client, messages=[{**QUESTION, "clear_at": "never"}])
    assert error(response)[:3] == (
        400,
        "invalid_request_error",
        'messages.0.clear_at: only permitted on role: "system" messages',
    )
