"""The console over HTTP, in process (FakeEngine): the session cookie's flags, CSRF on every
form, admin keys only, the pages and their empty states, the CSV, sign-out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from parley.settings import Settings
from tests.helpers import ADMIN_KEY, API_KEY, MODEL, create_keys, fake_app, serve


@pytest.fixture()
async def raw(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path)
    create_keys(settings)
    async for client in serve(fake_app(settings), key=""):
        yield client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-zA-Z_-]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(raw: httpx.AsyncClient, key: str = ADMIN_KEY) -> httpx.Response:
    form = await raw.get("/console/sign-in")
    return await raw.post("/console/sign-in", data={"key": key, "csrf": csrf_of(form.text)})


async def create_key(raw: httpx.AsyncClient, name: str) -> httpx.Response:
    """Creates a key in the default workspace through the console's form (signed in)."""
    page = (await raw.get("/console/keys")).text
    workspace = re.search(r'<option value="(wrkspc_[^"]+)" selected>default<', page)
    assert workspace
    return await raw.post(
        "/console/keys/create",
        data={"name": name, "workspace_id": workspace.group(1), "csrf": csrf_of(page)},
    )


def secret_in(created: httpx.Response) -> str:
    secret = re.search(r'id="secret">(sk-ant-api03-[^<]+)<', created.text)
    assert secret, "the secret is not shown"
    return secret.group(1)


async def test_signing_in_sets_an_httponly_strict_session_cookie(raw: httpx.AsyncClient) -> None:
    response = await sign_in(raw)
    assert response.status_code == 303 and response.headers["location"] == "/console/usage"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("parley_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie


async def test_a_workspace_key_gets_no_session(raw: httpx.AsyncClient) -> None:
    response = await sign_in(raw, API_KEY)
    assert response.status_code == 401
    assert "workspace API key" in response.text
    assert (await raw.get("/console/usage")).headers["location"] == "/console/sign-in"


async def test_sign_in_without_its_csrf_token_is_refused(raw: httpx.AsyncClient) -> None:
    await raw.get("/console/sign-in")
    response = await raw.post("/console/sign-in", data={"key": ADMIN_KEY})
    assert response.status_code == 403
    assert "parley_console=" not in response.headers.get("set-cookie", "")


async def test_a_form_with_a_wrong_csrf_token_changes_nothing(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    response = await raw.post("/console/workspaces/create", data={"name": "x", "csrf": "0" * 64})
    assert response.status_code == 403
    assert ">x<" not in (await raw.get("/console/keys")).text


@pytest.mark.parametrize(
    "page", ["usage", "limits", "limits/live", "keys", "cache", "batches", "models"]
)
async def test_every_page_opens_once_signed_in(raw: httpx.AsyncClient, page: str) -> None:
    assert (await raw.get(f"/console/{page}")).status_code == 303
    await sign_in(raw)
    assert (await raw.get(f"/console/{page}")).status_code == 200


async def test_empty_pages_say_what_would_fill_them(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    assert "No requests in this range" in (await raw.get("/console/usage")).text
    assert "No live cache entries" in (await raw.get("/console/cache")).text


async def test_the_csv_holds_the_buckets_shown(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    response = await raw.get("/console/usage.csv", params={"range": "7d", "bucket": "1d"})
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("section,name,requests,uncached_input_tokens")
    assert sum(line.startswith("bucket_1d,") for line in lines) == 7


async def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(
    raw: httpx.AsyncClient,
) -> None:
    await sign_in(raw)
    secret = secret_in(await create_key(raw, "=HYPERLINK(1)"))
    answered = await raw.post(
        "/v1/messages",
        headers={"x-api-key": secret, "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert answered.status_code == 200
    response = await raw.get("/console/usage.csv", params={"range": "24h", "bucket": "1h"})
    names = [row.split(",")[1] for row in response.text.splitlines()]
    assert not [name for name in names if name.startswith("=")]
    assert any(name.startswith("'=HYPERLINK(1)") for name in names)


async def test_a_disabled_admin_key_loses_its_session(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    keys = await raw.get("/v1/organizations/api_keys", headers={"x-api-key": ADMIN_KEY})
    admin_id = next(k["id"] for k in keys.json()["data"] if k["name"] == "admin")
    await raw.post(
        f"/v1/organizations/api_keys/{admin_id}",
        json={"status": "inactive"},
        headers={"x-api-key": ADMIN_KEY},
    )
    assert (await raw.get("/console/usage")).status_code == 303


async def test_signing_out_ends_the_session(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    page = await raw.get("/console/keys")
    response = await raw.post("/console/sign-out", data={"csrf": csrf_of(page.text)})
    assert response.headers["location"] == "/console/sign-in"
    assert (await raw.get("/console/keys")).status_code == 303


async def test_a_key_created_in_the_console_works_until_disabled_there(
    raw: httpx.AsyncClient,
) -> None:
    await sign_in(raw)
    created = await create_key(raw, "from-console")
    assert created.status_code == 201
    secret = secret_in(created)
    models = await raw.get("/v1/models", headers={"x-api-key": secret})
    assert models.status_code == 200
    key_id = re.search(r'data-key="(apikey_[^"]+)">\s*<td class="name">from-console', created.text)
    assert key_id
    listing = await raw.get("/console/keys")
    assert secret not in listing.text
    await raw.post(
        "/console/keys/disable", data={"key_id": key_id.group(1), "csrf": csrf_of(listing.text)}
    )
    refused = await raw.get("/v1/models", headers={"x-api-key": secret})
    assert refused.status_code == 401


async def test_a_key_cannot_be_created_in_an_unknown_workspace(raw: httpx.AsyncClient) -> None:
    await sign_in(raw)
    page = (await raw.get("/console/keys")).text
    response = await raw.post(
        "/console/keys/create",
        data={"name": "x", "workspace_id": "wrkspc_nope", "csrf": csrf_of(page)},
    )
    assert response.status_code == 404
    assert "not found" in response.text
