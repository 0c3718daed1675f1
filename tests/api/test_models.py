"""`GET /v1/models` and `GET /v1/models/{id}` through the SDK and as raw JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anthropic
import httpx
import httpx2
import pytest
from anthropic.types import ModelCapabilities, ModelInfo

from parley.app import create_app
from parley.settings import ModelSource, Settings
from parley.store.db import connect
from parley.store.keys import KeyStore
from tests.helpers import API_KEY, HOSTED_ALIAS, MODEL

NEWER = "newer-model-20260101"
OLDER = "older-model-20240101"


def test_the_list_holds_the_pinned_model(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    assert [model.id for model in page.data] == [MODEL]
    assert (page.has_more, page.first_id, page.last_id) == (False, MODEL, MODEL)


def test_the_list_is_the_contracts_page_object(http: httpx.Client) -> None:
    body = http.get("/v1/models").json()
    assert set(body) == {"data", "has_more", "first_id", "last_id"}


def test_a_model_is_described_exactly(http: httpx.Client) -> None:
    info = http.get(f"/v1/models/{MODEL}").json()
    assert {key: info[key] for key in info if key != "capabilities"} == {
        "id": MODEL,
        "type": "model",
        "display_name": "SmolLM2 135M Instruct",
        "created_at": "2025-02-07T00:00:00Z",
        "max_input_tokens": 8192,
        "max_tokens": 8192,
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "line": None,
    }


def test_lifecycle_is_present_in_list_and_get(http: httpx.Client) -> None:
    listed = http.get("/v1/models").json()["data"]
    assert [model["lifecycle"] for model in listed] == ["active"]
    assert http.get(f"/v1/models/{MODEL}").json()["lifecycle"] == "active"


def test_get_by_alias_returns_the_pinned_model(client: anthropic.Anthropic) -> None:
    assert client.models.retrieve("smollm2-135m").id == MODEL


def test_get_by_a_configured_hosted_alias_returns_the_pinned_model(
    client: anthropic.Anthropic,
) -> None:
    assert client.models.retrieve(HOSTED_ALIAS).id == MODEL


def test_an_unknown_model_is_404_naming_it(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.type == "not_found_error"
    assert raised.value.api_message == "model: no-such-model"


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_limit_out_of_range_is_a_400(client: anthropic.Anthropic, limit: int) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.models.list(limit=limit)
    assert raised.value.api_message == "limit: Input should be between 1 and 1000"


def test_a_limit_that_is_not_a_number_is_a_400(http: httpx.Client) -> None:
    response = http.get("/v1/models", params={"limit": "ten"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "limit: Input should be a valid integer"


def test_model_info_validates_as_the_sdks_model_info(http: httpx.Client) -> None:
    info = ModelInfo.model_validate(http.get(f"/v1/models/{MODEL}").json())
    assert isinstance(info.capabilities, ModelCapabilities)
    assert info.created_at == datetime(2025, 2, 7, tzinfo=UTC)


def test_listed_models_validate_as_the_sdks_model_info(http: httpx.Client) -> None:
    for listed in http.get("/v1/models").json()["data"]:
        ModelInfo.model_validate(listed)


def test_the_sdk_parses_capabilities(client: anthropic.Anthropic) -> None:
    capabilities = client.models.retrieve(MODEL).capabilities
    assert capabilities is not None
    assert capabilities.image_input.supported is False
    assert capabilities.thinking.types.adaptive.supported is True


def test_the_beta_query_string_is_ignored(client: anthropic.Anthropic) -> None:
    assert [model.id for model in client.beta.models.list()] == [MODEL]


@pytest.fixture(scope="module")
async def three_models(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """An in-process app whose catalog has three models. The models API reads the catalog
    only, so no lifespan (and no model loading) is needed."""
    data_dir: Path = tmp_path_factory.mktemp("three-models")
    settings = Settings(
        data_dir=data_dir,
        models=[
            ModelSource(
                id=NEWER,
                path=data_dir / "newer.gguf",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                aliases=["newer"],
            ),
            ModelSource(
                id=OLDER, path=data_dir / "older.gguf", created_at=datetime(2024, 1, 1, tzinfo=UTC)
            ),
        ],
    )
    await KeyStore(connect(settings.resolved_database_url())).create(name="t", secret=API_KEY)
    transport = httpx2.ASGITransport(app=create_app(settings))
    async with httpx2.AsyncClient(transport=transport, base_url="http://parley") as raw:
        yield anthropic.AsyncAnthropic(
            base_url="http://parley", api_key=API_KEY, max_retries=0, http_client=raw
        )


async def test_models_are_listed_newest_first(three_models: anthropic.AsyncAnthropic) -> None:
    page = await three_models.models.list()
    assert [model.id for model in page.data] == [NEWER, MODEL, OLDER]
    assert (page.first_id, page.last_id, page.has_more) == (NEWER, OLDER, False)


async def test_limit_one_pages_forward_with_after_id(
    three_models: anthropic.AsyncAnthropic,
) -> None:
    first = await three_models.models.list(limit=1)
    second = await three_models.models.list(limit=1, after_id=NEWER)
    third = await three_models.models.list(limit=1, after_id=MODEL)
    assert [(p.first_id, p.last_id, p.has_more) for p in (first, second, third)] == [
        (NEWER, NEWER, True),
        (MODEL, MODEL, True),
        (OLDER, OLDER, False),
    ]


async def test_limit_one_pages_backward_with_before_id(
    three_models: anthropic.AsyncAnthropic,
) -> None:
    page = await three_models.models.list(limit=1, before_id=OLDER)
    assert ([model.id for model in page.data], page.has_more) == ([MODEL], True)
    first = await three_models.models.list(limit=1, before_id=MODEL)
    assert ([model.id for model in first.data], first.has_more) == ([NEWER], False)


async def test_the_sdk_auto_paginates_through_every_model(
    three_models: anthropic.AsyncAnthropic,
) -> None:
    assert [model.id async for model in three_models.models.list(limit=1)] == [
        NEWER,
        MODEL,
        OLDER,
    ]


async def test_an_operator_models_alias_resolves(three_models: anthropic.AsyncAnthropic) -> None:
    assert (await three_models.models.retrieve("newer")).id == NEWER


async def test_an_operator_model_without_a_window_gets_the_default(
    three_models: anthropic.AsyncAnthropic,
) -> None:
    info = await three_models.models.retrieve(OLDER)
    assert (info.max_input_tokens, info.max_tokens, info.display_name) == (4096, 4096, OLDER)
