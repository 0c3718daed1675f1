"""The one table of what Parley serves: each operation's method, path, body and answer models,
and who may call it. `GET /openapi.json` is generated from it, and the test suite checks it
against the app's routes (a route missing here fails) and drives the isolation matrix from it
(every operation x every kind of caller). A new endpoint is one row here and its router."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from parley.routes.surfaces.bedrock import VERSIONS as BEDROCK_VERSIONS
from parley.routes.surfaces.vertex import VERSIONS as VERTEX_VERSIONS
from parley.wire.admin import (
    ApiKey,
    ApiKeyUpdateParams,
    CreditBalance,
    CreditPurchaseParams,
    Page,
    Workspace,
    WorkspaceCreateParams,
)
from parley.wire.batches import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchCreateParams,
    MessageBatchPage,
)
from parley.wire.bedrock import InferenceProfileSummary, ListInferenceProfilesResponse
from parley.wire.cache import CacheEntryList
from parley.wire.limits import RateLimitList
from parley.wire.messages import CountTokensParams, Message, MessageCreateParams, MessageTokensCount
from parley.wire.models import ModelInfo, ModelPage
from parley.wire.reports import CostReport, UsageReport

# public: anyone; key: any active key; workspace: a workspace's API key (not an admin key);
# admin: an organization's admin key.
Auth = Literal["public", "key", "workspace", "admin"]
Surface = Literal["claude_api", "vertex", "bedrock", "operator"]

EXAMPLE_MODEL = "smollm2-135m-instruct-20250207"
EXAMPLE_MESSAGES = [{"role": "user", "content": "Hello"}]


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter; path parameters are always required."""

    name: str
    where: Literal["path", "query", "header"]
    example: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Body:
    """A request body: `model`'s fields, less `dropped`, plus `added` (JSON schemas, required)
    and `optional` ones; `name` names the edited schema when it differs from the model's."""

    model: type[BaseModel]
    example: dict[str, Any]
    dropped: tuple[str, ...] = ()
    added: dict[str, dict[str, Any]] = field(default_factory=dict)
    optional: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class Operation:
    """`path` as OpenAPI writes it; `route` is the app's route template where it differs other
    than by converters (`{id:path}`): one route may serve several operations. `stream`: the
    media type of the answer when the body asks for a stream. `owned`: the path names an object
    of the caller's workspace, so another workspace's key gets 404."""

    name: str
    method: Literal["GET", "POST", "DELETE"]
    path: str
    summary: str
    auth: Auth
    surface: Surface
    response: type[BaseModel] | None
    body: Body | None = None
    params: tuple[Param, ...] = ()
    route: str | None = None
    media_type: str = "application/json"
    stream: str | None = None
    owned: bool = False

    @property
    def served_route(self) -> str:
        return self.route or self.path


def _paging(*extra: Param) -> tuple[Param, ...]:
    return (
        Param("limit", "query", "20", {"type": "integer"}),
        Param("after_id", "query", ""),
        Param("before_id", "query", ""),
        *extra,
    )


_VERSION_HEADER = Param(
    "anthropic-version",
    "header",
    "2023-06-01",
    {"type": "string", "enum": ["2023-06-01", "2026-10-21"]},
)
_REPORT = (
    _VERSION_HEADER,
    Param("starting_at", "query", "2026-01-01T00:00:00Z", {"type": "string"}, required=True),
    Param("ending_at", "query", "2026-01-02T00:00:00Z"),
    Param("bucket_width", "query", "1d", {"type": "string", "enum": ["1m", "1h", "1d"]}),
    Param("limit", "query", "1", {"type": "integer"}),
    Param("page", "query", "2026-01-01T00:00:00Z"),
    Param("group_by[]", "query", "workspace_id", {"type": "array", "items": {"type": "string"}}),
)
_CREATE_EXAMPLE = {"model": EXAMPLE_MODEL, "max_tokens": 16, "messages": EXAMPLE_MESSAGES}
_COUNT_EXAMPLE = {"model": EXAMPLE_MODEL, "messages": EXAMPLE_MESSAGES}
_BATCHES = "/v1/messages/batches"
_BATCH_ID = Param("batch_id", "path", "msgbatch_01")
_BATCH_EXAMPLE = {"requests": [{"custom_id": "first", "params": _CREATE_EXAMPLE}]}


def _version_field(versions: dict[str, str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(versions)}


_VERTEX = "/v1/projects/{project}/locations/{region}/publishers/anthropic/models"
_VERTEX_PARAMS = (
    Param("project", "path", "my-project"),
    Param("region", "path", "us-east5"),
)
_VERTEX_MODEL = Param("model", "path", "smollm2-135m-instruct@20250207")
_VERTEX_BODY = Body(
    MessageCreateParams,
    {"anthropic_version": "vertex-2023-10-16", "max_tokens": 16, "messages": EXAMPLE_MESSAGES},
    dropped=("model",),
    added={"anthropic_version": _version_field(VERTEX_VERSIONS)},
    name="VertexMessageCreateParams",
)
_BEDROCK_MODEL = Param("model_id", "path", f"anthropic.{EXAMPLE_MODEL}-v1:0")
_BEDROCK_REGION = Param("region", "path", "us-east-1")
_BEDROCK_BODY = Body(
    MessageCreateParams,
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16, "messages": EXAMPLE_MESSAGES},
    dropped=("model", "stream"),
    added={"anthropic_version": _version_field(BEDROCK_VERSIONS)},
    optional={
        "anthropic_beta": {"type": "array", "items": {"type": "string"}},
        "user_profile_id": {"type": "string"},
    },
    name="BedrockInvokeParams",
)
_EVENT_STREAM = "application/vnd.amazon.eventstream"
_PROFILE = Param("identifier", "path", f"us.anthropic.{EXAMPLE_MODEL}-v1:0")
_PROFILE_QUERY = (
    Param("maxResults", "query", "10", {"type": "integer"}),
    Param("nextToken", "query", "0"),
    Param(
        "type",
        "query",
        "SYSTEM_DEFINED",
        {"type": "string", "enum": ["SYSTEM_DEFINED", "APPLICATION"]},
    ),
)


def _bedrock_invoke(name: str, path: str, summary: str, *, stream: bool) -> list[Operation]:
    """The Bedrock runtime operation at its path and under `/bedrock/{region}`."""
    kind = _EVENT_STREAM if stream else "application/json"
    response = None if stream else Message
    return [
        Operation(
            name,
            "POST",
            path,
            summary,
            "workspace",
            "bedrock",
            response,
            body=_BEDROCK_BODY,
            params=(_BEDROCK_MODEL,),
            media_type=kind,
        ),
        Operation(
            f"{name}InRegion",
            "POST",
            "/bedrock/{region}" + path,
            f"{summary} (region in the URL)",
            "workspace",
            "bedrock",
            response,
            body=_BEDROCK_BODY,
            params=(_BEDROCK_REGION, _BEDROCK_MODEL),
            media_type=kind,
        ),
    ]


def _profiles(
    name: str, path: str, summary: str, response: type[BaseModel], *params: Param
) -> list[Operation]:
    return [
        Operation(name, "GET", path, summary, "key", "bedrock", response, params=params),
        Operation(
            f"{name}InRegion",
            "GET",
            "/bedrock/{region}" + path,
            f"{summary} (region in the URL)",
            "key",
            "bedrock",
            response,
            params=(_BEDROCK_REGION, *params),
        ),
    ]


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "createMessage",
        "POST",
        "/v1/messages",
        "Create a Message",
        "workspace",
        "claude_api",
        Message,
        body=Body(MessageCreateParams, _CREATE_EXAMPLE),
        params=(_VERSION_HEADER,),
        stream="text/event-stream",
    ),
    Operation(
        "countMessageTokens",
        "POST",
        "/v1/messages/count_tokens",
        "Count the tokens of a Message",
        "workspace",
        "claude_api",
        MessageTokensCount,
        body=Body(CountTokensParams, _COUNT_EXAMPLE),
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "createMessageBatch",
        "POST",
        _BATCHES,
        "Create a Message Batch",
        "workspace",
        "claude_api",
        MessageBatch,
        body=Body(MessageBatchCreateParams, _BATCH_EXAMPLE),
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "listMessageBatches",
        "GET",
        _BATCHES,
        "List Message Batches, newest first (an admin key: the whole organization's)",
        "key",
        "claude_api",
        MessageBatchPage,
        params=(_VERSION_HEADER, *_paging()),
    ),
    Operation(
        "cancelMessageBatch",
        "POST",
        _BATCHES + "/{batch_id}/cancel",
        "Cancel a Message Batch",
        "key",
        "claude_api",
        MessageBatch,
        params=(_VERSION_HEADER, _BATCH_ID),
        owned=True,
    ),
    Operation(
        "getMessageBatch",
        "GET",
        _BATCHES + "/{batch_id}",
        "Get a Message Batch",
        "key",
        "claude_api",
        MessageBatch,
        params=(_VERSION_HEADER, _BATCH_ID),
        owned=True,
    ),
    Operation(
        "deleteMessageBatch",
        "DELETE",
        _BATCHES + "/{batch_id}",
        "Delete an ended Message Batch",
        "key",
        "claude_api",
        DeletedMessageBatch,
        params=(_VERSION_HEADER, _BATCH_ID),
        owned=True,
    ),
    Operation(
        "getMessageBatchResults",
        "GET",
        _BATCHES + "/{batch_id}/results",
        "An ended Message Batch's results, one JSON line per request",
        "key",
        "claude_api",
        None,
        params=(_VERSION_HEADER, _BATCH_ID),
        media_type="application/binary",
        owned=True,
    ),
    Operation(
        "listModels",
        "GET",
        "/v1/models",
        "List models, newest first",
        "key",
        "claude_api",
        ModelPage,
        params=(
            _VERSION_HEADER,
            *_paging(
                Param(
                    "lifecycle[]",
                    "query",
                    "active",
                    {
                        "type": "array",
                        "items": {"type": "string", "enum": ["active", "deprecated", "retired"]},
                    },
                )
            ),
        ),
    ),
    Operation(
        "getModel",
        "GET",
        "/v1/models/{model_id}",
        "Get a model (aliases resolve)",
        "key",
        "claude_api",
        ModelInfo,
        params=(_VERSION_HEADER, Param("model_id", "path", EXAMPLE_MODEL)),
    ),
    Operation(
        "createWorkspace",
        "POST",
        "/v1/organizations/workspaces",
        "Create a workspace",
        "admin",
        "claude_api",
        Workspace,
        body=Body(WorkspaceCreateParams, {"name": "research"}),
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "listWorkspaces",
        "GET",
        "/v1/organizations/workspaces",
        "List workspaces",
        "admin",
        "claude_api",
        Page[Workspace],
        params=(_VERSION_HEADER, *_paging()),
    ),
    Operation(
        "listApiKeys",
        "GET",
        "/v1/organizations/api_keys",
        "List API keys",
        "admin",
        "claude_api",
        Page[ApiKey],
        params=(_VERSION_HEADER, *_paging(Param("status", "query", "active"))),
    ),
    Operation(
        "updateApiKey",
        "POST",
        "/v1/organizations/api_keys/{key_id}",
        "Rename or disable an API key",
        "admin",
        "claude_api",
        ApiKey,
        body=Body(ApiKeyUpdateParams, {"name": "renamed"}),
        params=(_VERSION_HEADER, Param("key_id", "path", "apikey_01")),
    ),
    Operation(
        "buyCredit",
        "POST",
        "/v1/organizations/credit_purchases",
        "Record a credit purchase",
        "admin",
        "claude_api",
        CreditBalance,
        body=Body(CreditPurchaseParams, {"amount": "5"}),
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "getRateLimits",
        "GET",
        "/v1/organizations/rate_limits",
        "The organization's rate limits",
        "admin",
        "claude_api",
        RateLimitList,
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "getUsageReport",
        "GET",
        "/v1/organizations/usage_report/messages",
        "Usage report of the Messages API",
        "admin",
        "claude_api",
        UsageReport,
        params=_REPORT,
    ),
    Operation(
        "getCostReport",
        "GET",
        "/v1/organizations/cost_report",
        "Cost report",
        "admin",
        "claude_api",
        CostReport,
        params=_REPORT,
    ),
    Operation(
        "listCacheEntries",
        "GET",
        "/parley/cache",
        "Live prompt-cache entries",
        "admin",
        "operator",
        CacheEntryList,
        params=(_VERSION_HEADER,),
    ),
    Operation(
        "vertexRawPredict",
        "POST",
        _VERTEX + "/{model}:rawPredict",
        "Create a Message (Vertex AI)",
        "workspace",
        "vertex",
        Message,
        body=_VERTEX_BODY,
        params=(*_VERTEX_PARAMS, _VERTEX_MODEL),
        route=_VERTEX + "/{target}",
    ),
    Operation(
        "vertexStreamRawPredict",
        "POST",
        _VERTEX + "/{model}:streamRawPredict",
        "Stream a Message (Vertex AI)",
        "workspace",
        "vertex",
        None,
        body=_VERTEX_BODY,
        params=(*_VERTEX_PARAMS, _VERTEX_MODEL),
        route=_VERTEX + "/{target}",
        media_type="text/event-stream",
    ),
    Operation(
        "vertexCountTokens",
        "POST",
        _VERTEX + "/count-tokens:rawPredict",
        "Count the tokens of a Message (Vertex AI)",
        "workspace",
        "vertex",
        MessageTokensCount,
        body=Body(
            CountTokensParams,
            {"anthropic_version": "vertex-2023-10-16", **_COUNT_EXAMPLE},
            added={"anthropic_version": _version_field(VERTEX_VERSIONS)},
            name="VertexCountTokensParams",
        ),
        params=_VERTEX_PARAMS,
        route=_VERTEX + "/{target}",
    ),
    *_bedrock_invoke(
        "bedrockInvokeModel",
        "/model/{model_id}/invoke",
        "Create a Message (Bedrock InvokeModel)",
        stream=False,
    ),
    *_bedrock_invoke(
        "bedrockInvokeModelWithResponseStream",
        "/model/{model_id}/invoke-with-response-stream",
        "Stream a Message (Bedrock InvokeModelWithResponseStream)",
        stream=True,
    ),
    *_profiles(
        "bedrockListInferenceProfiles",
        "/inference-profiles",
        "List inference profiles",
        ListInferenceProfilesResponse,
        *_PROFILE_QUERY,
    ),
    *_profiles(
        "bedrockGetInferenceProfile",
        "/inference-profiles/{identifier}",
        "Get an inference profile",
        InferenceProfileSummary,
        _PROFILE,
    ),
    Operation(
        "healthz",
        "GET",
        "/healthz",
        "Readiness: 200 once the models are loaded",
        "public",
        "operator",
        None,
    ),
    Operation(
        "metrics",
        "GET",
        "/metrics",
        "Prometheus metrics",
        "public",
        "operator",
        None,
        media_type="text/plain",
    ),
    Operation("openapi", "GET", "/openapi.json", "This document", "public", "operator", None),
)

# Routes the app serves that are not operations of the description, by path prefix, and why.
NOT_OPERATIONS: dict[str, str] = {
    "/console": "the web console: HTML pages and form posts for people in a browser, signed in "
    "with a session cookie and guarded by a CSRF nonce; no client calls them with a key, and "
    "each reads and writes through the same services as the API operations here",
}
