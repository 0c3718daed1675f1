"""The `parley` command: one subcommand per documented operation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from parley.settings import Settings, load_settings

if TYPE_CHECKING:
    from parley.domain.ports import Tenancy
    from parley.store.aws_credentials import AwsCredentialStore

app = typer.Typer(help="Parley: the Claude Messages API on local open-weight models.")
keys_app = typer.Typer(help="Manage API keys.")
app.add_typer(keys_app, name="keys")
workspaces_app = typer.Typer(help="Manage workspaces.")
app.add_typer(workspaces_app, name="workspaces")
batches_app = typer.Typer(help="Message Batches on a running server.")
app.add_typer(batches_app, name="batches")
console = Console()

AsJson = Annotated[
    bool, typer.Option("--json", help="print the API's JSON objects instead of a table")
]
ADMIN_KEY_ENV = "PARLEY_ADMIN_KEY"
NO_KEY = (
    f"An admin key is needed: pass --key sk-ant-admin01-... or set {ADMIN_KEY_ENV}. "
    "Create one with `parley keys create --admin`."
)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


class Listing:
    """A table that keeps the `whole` columns (ids, names a request needs) on one line at any
    width, piped output included, and folds the others onto more lines to make room; or, with
    no rows, a sentence saying what would fill it."""

    def __init__(self, *headers: str, whole: tuple[str, ...] = ("id",)) -> None:
        self.headers = headers
        self.whole = whole
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)

    def print(self, empty: str) -> None:
        if not self.rows:
            console.print(empty)
            return
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for i, header in enumerate(self.headers):
            if header in self.whole:
                widest = max(len(header), *(len(row[i]) for row in self.rows))
                table.add_column(header, no_wrap=True, min_width=widest)
            else:
                table.add_column(header, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        console.print(table)


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="data directory (env PARLEY_DATA_DIR)")
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config file", envvar="PARLEY_CONFIG", exists=True),
]


def _settings(data_dir: Path | None, config: Path | None, **overrides: object) -> Settings:
    return load_settings(config, data_dir=data_dir, **overrides)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Load the catalog's models and serve the API."""
    import uvicorn

    from parley.app import create_app
    from parley.logs import configure_logging
    from parley.server import server_config
    from parley.store.serve_lock import AlreadyServing, ServeLock

    settings = _settings(data_dir, config, host=host, port=port)
    configure_logging(settings.logging.format, settings.logging.level)
    try:
        lock = ServeLock.acquire(settings.resolved_database_url())
    except AlreadyServing as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        application = create_app(settings, freeze_heap=True)
        console.print(f"Parley serving at http://{settings.host}:{settings.port}")
        console.print(f"Data directory: {settings.data_dir}")
        console.print(f"Get a key:   parley keys create --data-dir {settings.data_dir}")
        uvicorn.Server(server_config(application, settings, log_level="warning")).run()
    finally:
        if lock is not None:
            lock.release()


@app.command()
def worker(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Run a batch worker alone (no HTTP): it claims requests of Message Batches from the
    database the servers share (PostgreSQL for several workers)."""
    from parley.app import run_worker

    settings = _settings(data_dir, config)
    console.print(f"Parley batch worker on {settings.resolved_database_url().split('@')[-1]}")
    asyncio.run(run_worker(settings))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="a label for the key")] = "default",
    workspace: Annotated[str, typer.Option(help="workspace the key belongs to")] = "default",
    admin: Annotated[bool, typer.Option("--admin", help="an organization admin key")] = False,
    key: Annotated[
        str | None, typer.Option("--key", help="import this secret instead of generating one")
    ] = None,
    aws: Annotated[
        bool,
        typer.Option("--aws", help="an AWS access key pair instead (SigV4 on the Bedrock shape)"),
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an API key; the secret is printed once, as the last line."""
    from parley.store.db import connect
    from parley.store.keys import KeyStore

    settings = _settings(data_dir, config)
    if aws:
        _create_aws_key(settings, name, workspace, admin=admin, imported=key is not None)
        return
    store = KeyStore(connect(settings.resolved_database_url()))
    try:
        created = asyncio.run(store.create(name=name, workspace=workspace, admin=admin, secret=key))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    kind = "admin key" if admin else f"API key in workspace {workspace!r}"
    console.print(f"Created {kind} {created.principal.key_id} ({name}). Store it now:")
    typer.echo(created.secret)


def _aws_keys(settings: Settings) -> AwsCredentialStore:
    from parley.domain.sealing import Sealer
    from parley.store.aws_credentials import AwsCredentialStore
    from parley.store.db import connect
    from parley.store.server_key import load_server_key

    engine = connect(settings.resolved_database_url())
    return AwsCredentialStore(engine, Sealer(load_server_key(settings)))


def _create_aws_key(
    settings: Settings, name: str, workspace: str, *, admin: bool, imported: bool
) -> None:
    """An access key id and secret access key for `workspace`, printed as the last line."""
    if admin or imported:
        console.print("[red]--aws cannot be combined with --admin or --key[/red]")
        raise typer.Exit(1)
    created = asyncio.run(_aws_keys(settings).create(name=name, workspace=workspace))
    console.print(
        f"Created AWS access key {created.access_key_id} for API key "
        f"{created.principal.key_id} ({name}) in workspace {workspace!r}. Store it now:"
    )
    typer.echo(f"{created.access_key_id} {created.secret_access_key}")


def _first_organization(tenancy: Tenancy) -> str:
    """The (first) organization's id; a message and exit 1 before any key exists."""
    organization = asyncio.run(tenancy.first_organization())
    if organization is None:
        console.print("no organization yet: create a key first")
        raise typer.Exit(1)
    return organization


def _tenancy(data_dir: Path | None, config: Path | None) -> tuple[Tenancy, str]:
    """The tenancy store and the (first) organization's id."""
    from parley.store.db import connect
    from parley.store.tenancy import TenancyStore

    store = TenancyStore(connect(_settings(data_dir, config).resolved_database_url()))
    return store, _first_organization(store)


@keys_app.command("list")
def keys_list(as_json: AsJson = False, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List the organization's keys (hints only: secrets are never stored)."""
    from parley.routes.admin import key_object

    store, organization = _tenancy(data_dir, config)
    found = asyncio.run(store.keys(organization))
    if as_json:
        _print_json({"data": [key_object(key).model_dump(mode="json") for key in found]})
        return
    names = {w.id: w.name for w in asyncio.run(store.workspaces(organization))}
    table = Listing("id", "name", "workspace", "status", "hint")
    for key in found:
        workspace = "(admin key)" if key.is_admin else names.get(key.workspace_id or "", "-")
        table.add_row(key.id, key.name, workspace, key.status, key.partial_key_hint)
    table.print("No keys yet. Create one: parley keys create --name NAME")


@keys_app.command("disable")
def keys_disable(
    key_id: Annotated[str, typer.Argument(help="the key's id (apikey_...)")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Disable a key: it gets 401 from its next request on. An AWS access key id (AKIA...)
    disables that access key alone."""
    from parley.store.aws_credentials import is_access_key_id

    if is_access_key_id(key_id):
        if not asyncio.run(_aws_keys(_settings(data_dir, config)).disable(key_id)):
            console.print(f"[red]no key {key_id}[/red]")
            raise typer.Exit(1)
        console.print(f"{key_id} is now inactive")
        return
    store, organization = _tenancy(data_dir, config)
    updated = asyncio.run(store.update_key(organization, key_id, name=None, status="inactive"))
    if updated is None:
        console.print(f"[red]no key {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"{updated.id} is now {updated.status}")


@workspaces_app.command("create")
def workspaces_create(
    name: Annotated[str, typer.Argument(help="the workspace's name")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create a workspace (keys are created in it with `parley keys create --workspace`)."""
    store, organization = _tenancy(data_dir, config)
    created = asyncio.run(store.create_workspace(organization, name))
    console.print(f"{created.id} {created.name}")


@workspaces_app.command("list")
def workspaces_list(
    as_json: AsJson = False, data_dir: DataDir = None, config: ConfigFile = None
) -> None:
    """List the organization's workspaces."""
    from parley.routes.admin import workspace_object

    store, organization = _tenancy(data_dir, config)
    found = asyncio.run(store.workspaces(organization))
    if as_json:
        _print_json({"data": [workspace_object(w).model_dump(mode="json") for w in found]})
        return
    table = Listing("id", "name", "created")
    for workspace in found:
        table.add_row(workspace.id, workspace.name, workspace.created_at.isoformat())
    table.print("No workspaces yet. Create one: parley workspaces create NAME")


@app.command("models")
def models(as_json: AsJson = False, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List the catalog: pinned ids, aliases, context windows."""
    from parley.app import build_catalog
    from parley.routes.models import model_info

    catalog = build_catalog(_settings(data_dir, config))
    if as_json:
        _print_json({"data": [model_info(e).model_dump(mode="json") for e in catalog.entries]})
        return
    table = Listing("id", "aliases", "display name", "context", "max output", "lifecycle")
    for entry in catalog.entries:
        table.add_row(
            entry.id,
            ", ".join(catalog.aliases_of(entry)),
            entry.display_name,
            str(entry.context_window),
            str(entry.max_output),
            entry.lifecycle,
        )
    table.print("The catalog is empty: enable default_model or add [[models]] to the config.")


ServerUrl = Annotated[str, typer.Option("--url", help="the running server")]
AdminKey = Annotated[
    str,
    typer.Option("--key", help="an admin key of the organization", envvar=ADMIN_KEY_ENV),
]


def _admin_get(url: str, key: str, path: str) -> Any:
    """GET an admin endpoint of a running server; a clear message and exit 1 on failure."""
    import httpx

    if not key:
        console.print(f"[red]{NO_KEY}[/red]")
        raise typer.Exit(1)
    try:
        response = httpx.get(f"{url}{path}", headers={"x-api-key": key}, timeout=30)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {url}: {exc}[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        message = f"{response.status_code}: {response.json()['error']['message']}"
        hint = f" {NO_KEY}" if response.status_code in (401, 403) else ""
        console.print(f"[red]{message}.{hint}[/red]")
        raise typer.Exit(1)
    return response.json()


@app.command("cache")
def cache(
    url: ServerUrl = "http://127.0.0.1:8787", key: AdminKey = "", as_json: AsJson = False
) -> None:
    """Show the live prompt-cache entries of a running server (the key's organization)."""
    listing = _admin_get(url, key, "/parley/cache")
    if as_json:
        _print_json(listing)
        return
    table = Listing(
        "workspace",
        "model",
        "prefix tokens",
        "ttl",
        "ttl left (s)",
        "hits",
        whole=("workspace", "model"),
    )
    for entry in listing["data"]:
        table.add_row(
            entry["workspace_id"],
            entry["model"],
            str(entry["prefix_tokens"]),
            entry["ttl"],
            f"{entry['ttl_left_seconds']:.0f}",
            str(entry["hits"]),
        )
    table.print(
        "No live prompt-cache entries. One appears when a request marks a prompt prefix with "
        'cache_control {"type": "ephemeral"} and the prefix is long enough for its model; it '
        "lives for its TTL (5 minutes or 1 hour) after its last use.",
    )


@app.command("limits")
def limits(
    url: ServerUrl = "http://127.0.0.1:8787", key: AdminKey = "", as_json: AsJson = False
) -> None:
    """Show the organization's rate limits and their live headroom on a running server."""
    listing = _admin_get(url, key, "/v1/organizations/rate_limits")
    if as_json:
        _print_json(listing)
        return
    table = Listing(
        "group", "tier", "models", "limit", "per minute", "remaining now", whole=("group", "limit")
    )
    for group in listing["data"]:
        for limit in group["limits"]:
            table.add_row(
                group["id"],
                group["tier"],
                ", ".join(group["models"]),
                limit["type"],
                str(limit["value"]),
                str(limit["remaining"]),
            )
    table.print(
        "No per-minute limits: the organization's tier sets none. Give it a tier with limits "
        "in the config's [limits] section (docs/configuration.md).",
    )


@app.command("usage")
def usage(
    starting_at: Annotated[
        str | None, typer.Option(help="RFC 3339; default: 7 days ago (1d buckets)")
    ] = None,
    ending_at: Annotated[str | None, typer.Option(help="RFC 3339; default: now")] = None,
    bucket_width: Annotated[str, typer.Option(help="1m, 1h or 1d")] = "1d",
    group_by: Annotated[
        list[str] | None,
        typer.Option(
            help="model, workspace_id, api_key_id, service_tier, inference_geo, surface, region "
            "(repeatable)"
        ),
    ] = None,
    organization: Annotated[
        str | None, typer.Option(help="organization id (default: the first one)")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="also write the rows as CSV")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Print token usage and cost from the ledger, as the usage report groups it."""
    import csv
    from datetime import UTC, datetime
    from decimal import Decimal

    from parley.domain.pricing import PICO
    from parley.domain.reports import (
        PAGE_LIMITS,
        WIDTHS,
        rfc3339,
        usage_dimensions,
        usage_report,
        window,
    )
    from parley.store.db import connect
    from parley.store.ledger import LedgerStore
    from parley.store.tenancy import TenancyStore

    engine = connect(_settings(data_dir, config).resolved_database_url())
    if organization is None:
        organization = _first_organization(TenancyStore(engine))
    end = datetime.fromisoformat(ending_at) if ending_at else datetime.now(UTC)
    start = datetime.fromisoformat(starting_at) if starting_at else end - 7 * WIDTHS["1d"]
    groups = group_by or []
    win = window(start, end, bucket_width, PAGE_LIMITS.get(bucket_width, (0, 1))[1])
    ledger = LedgerStore(engine)
    span = (organization, win.starts[0], win.starts[-1] + win.width)
    rows = asyncio.run(ledger.totals(*span, bucket_width, usage_dimensions(groups)))
    report = usage_report(rows, win, groups)
    if as_json:
        following = rfc3339(win.next_page) if win.next_page else None
        _print_json({"data": report, "has_more": following is not None, "next_page": following})
        return
    table = Listing(
        "bucket",
        *groups,
        "uncached input",
        "cache write",
        "cache read",
        "output",
        whole=("bucket", *groups),
    )
    records: list[list[str]] = []
    for bucket in report:
        for result in bucket["results"]:
            writes = result["cache_creation"]
            record = [
                bucket["starting_at"],
                *(str(result[name]) for name in groups),
                str(result["uncached_input_tokens"]),
                str(writes["ephemeral_5m_input_tokens"] + writes["ephemeral_1h_input_tokens"]),
                str(result["cache_read_input_tokens"]),
                str(result["output_tokens"]),
            ]
            records.append(record)
            table.add_row(*record)
    cost = Decimal(sum(row.cost_picodollars for row in rows)) / PICO
    requests = sum(row.requests for row in rows)
    table.print(
        f"No requests from {rfc3339(win.starts[0])} to {rfc3339(span[2])}. Usage is recorded "
        "as keys send requests; try an earlier --starting-at, or the server's --data-dir.",
    )
    console.print(f"cost: ${cost.quantize(Decimal('0.000001'))} over {requests} requests")
    if csv_file is not None:
        with csv_file.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["bucket", *groups, "uncached_input", "cache_write", "cache_read", "output"]
            )
            writer.writerows(records)


API_KEY_ENV = "PARLEY_API_KEY"
ApiKey = Annotated[str, typer.Option("--key", help="an API key (or admin key)", envvar=API_KEY_ENV)]
NO_API_KEY = (
    f"An API key is needed: pass --key sk-ant-api03-... or set {API_KEY_ENV}. "
    "Create one with `parley keys create`."
)


def _api(url: str, key: str, method: str, path: str, **kwargs: Any) -> Any:
    """Calls a running server's API; a clear message and exit 1 on failure."""
    import httpx

    if not key:
        console.print(f"[red]{NO_API_KEY}[/red]")
        raise typer.Exit(1)
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    try:
        response = httpx.request(method, f"{url}{path}", headers=headers, timeout=300, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {url}: {exc}[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {response.json()['error']['message']}[/red]")
        raise typer.Exit(1)
    return response


def _batch_listing(batches: list[dict[str, Any]]) -> Listing:
    table = Listing(
        "id", "status", "processing", "succeeded", "errored", "canceled", "expired", "created"
    )
    for batch in batches:
        counts = batch["request_counts"]
        table.add_row(
            batch["id"],
            batch["processing_status"],
            *(str(counts[k]) for k in ("processing", "succeeded", "errored", "canceled")),
            str(counts["expired"]),
            batch["created_at"],
        )
    return table


@batches_app.command("create")
def batches_create(
    file: Annotated[Path, typer.Argument(help='JSONL: one {"custom_id", "params"} per line')],
    wait: Annotated[bool, typer.Option("--wait", help="follow the batch until it ends")] = False,
    url: ServerUrl = "http://127.0.0.1:8787",
    key: ApiKey = "",
) -> None:
    """Create a Message Batch from a JSONL file; prints its id as the last line."""
    import json

    lines = [line for line in file.read_text().splitlines() if line.strip()]
    try:
        requests = [json.loads(line) for line in lines]
    except ValueError as exc:
        console.print(f"[red]{file}: not JSONL: {exc}[/red]")
        raise typer.Exit(1) from None
    batch = _api(url, key, "POST", "/v1/messages/batches", json={"requests": requests}).json()
    if wait:
        batch = _follow(url, key, batch["id"], len(requests))
        _batch_listing([batch]).print("")
    console.print(batch["id"])


def _follow(url: str, key: str, batch_id: str, total: int) -> Any:
    """A progress bar until the batch ends. The batch object shows every request as
    processing until all have ended (as hosted); the live tallies come in Parley's
    `parley-request-counts` header."""
    import json
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    path = f"/v1/messages/batches/{batch_id}"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("processing", total=total)
        while True:
            response = _api(url, key, "GET", path)
            live = json.loads(response.headers.get("parley-request-counts", "{}"))
            shown = ", ".join(f"{state} {live.get(state, 0)}" for state in ("succeeded", "errored"))
            done = total - live.get("processing", total)
            bar.update(task, completed=done, description=f"{shown}, processing {total - done}")
            if response.json()["processing_status"] == "ended":
                return response.json()
            time.sleep(1)


@batches_app.command("list")
def batches_list(
    url: ServerUrl = "http://127.0.0.1:8787", key: ApiKey = "", as_json: AsJson = False
) -> None:
    """The key's workspace's batches (an admin key: the organization's), newest first: the
    newest 100, as one page of `GET /v1/messages/batches` (all of it with --json)."""
    page = _api(url, key, "GET", "/v1/messages/batches", params={"limit": 100}).json()
    if as_json:
        _print_json(page)
        return
    _batch_listing(page["data"]).print(
        "No Message Batches yet. Create one from a JSONL file (one "
        '{"custom_id": ..., "params": {...}} per line) with `parley batches create FILE.jsonl`, '
        "or with an SDK's client.messages.batches.create(requests=[...])."
    )


@batches_app.command("get")
def batches_get(
    batch_id: Annotated[str, typer.Argument(help="msgbatch_...")],
    url: ServerUrl = "http://127.0.0.1:8787",
    key: ApiKey = "",
) -> None:
    """One batch, as JSON."""
    console.print_json(_api(url, key, "GET", f"/v1/messages/batches/{batch_id}").text)


@batches_app.command("cancel")
def batches_cancel(
    batch_id: Annotated[str, typer.Argument(help="msgbatch_...")],
    url: ServerUrl = "http://127.0.0.1:8787",
    key: ApiKey = "",
) -> None:
    """Cancel a batch: unstarted requests end canceled, running ones finish."""
    console.print_json(_api(url, key, "POST", f"/v1/messages/batches/{batch_id}/cancel").text)


@batches_app.command("results")
def batches_results(
    batch_id: Annotated[str, typer.Argument(help="msgbatch_...")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write the JSONL here (default: stdout)")
    ] = None,
    url: ServerUrl = "http://127.0.0.1:8787",
    key: ApiKey = "",
) -> None:
    """An ended batch's results, one JSON line per request."""
    body = _api(url, key, "GET", f"/v1/messages/batches/{batch_id}/results").text
    if output is None:
        typer.echo(body, nl=False)
    else:
        output.write_text(body)
        console.print(f"{body.count(chr(10))} results written to {output}")


def main() -> None:
    app()
