"""The console's pages under /console. Each page authenticates the admin key sealed in the
session cookie, then reads and writes through the same services as the API routes."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from parley.console import charts, units
from parley.console.session import COOKIE, PRE_COOKIE, Sessions, new_nonce
from parley.console.usage import BREAKDOWNS, RANGES, UsageView, span, usage_view
from parley.domain.catalog import Catalog
from parley.domain.ports import Clock, Principal
from parley.domain.pricing import PICO, PriceBook
from parley.domain.reports import WHOLE
from parley.errors import ParleyError
from parley.services.admin import Admin
from parley.services.auth import AuthService
from parley.services.batches import Batches
from parley.services.caching import PromptCache
from parley.services.limits import RateLimits
from parley.services.reports import Reports

MAX_FORM = 64 * 1024
BATCHES_SHOWN = 100
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
LIMIT_NAMES = {
    "requests": "Requests",
    "input-tokens": "Input tokens",
    "output-tokens": "Output tokens",
}

_templates = Environment(
    loader=PackageLoader("parley.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(tokens=units.tokens, usd=units.usd, seconds=units.seconds)


@dataclass(frozen=True)
class ConsoleServices:
    auth: AuthService
    reports: Reports
    admin: Admin
    limits: RateLimits
    prompt_cache: PromptCache
    batches: Batches
    catalog: Catalog
    prices: PriceBook
    sessions: Sessions
    clock: Clock  # the wall clock: sessions expire by it


class SignInNeeded(Exception):
    """Raised by a page whose request carries no valid session."""


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _cookie(response: Response, name: str, value: str, request: Request, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def console_router(services: ConsoleServices) -> APIRouter:
    router = APIRouter(prefix="/console")
    sessions = services.sessions

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(_templates.get_template(name).render(**context), status_code=status)

    async def signed_in(request: Request) -> tuple[Principal, str]:
        cookie = request.cookies.get(COOKIE)
        secret = sessions.secret(cookie, services.clock.now())
        if secret is None or cookie is None:
            raise SignInNeeded
        try:
            principal = await services.auth.authenticate(secret, None)
        except ParleyError:
            raise SignInNeeded from None
        if not principal.is_admin:
            raise SignInNeeded
        return principal, sessions.csrf(cookie)

    Handler = Callable[[Request, Principal, str], Awaitable[Response]]

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Sends requests without a session to sign in, and refuses forms without the
        session's CSRF token."""

        async def run(request: Request) -> Response:
            try:
                principal, csrf = await signed_in(request)
            except SignInNeeded:
                return RedirectResponse("/console/sign-in", status_code=303)
            if request.method == "POST":
                form = await _form(request)
                if not sessions.csrf_ok(request.cookies.get(COOKIE), form.get("csrf")):
                    return _refused(page)
                request.state.form = form
            try:
                return await handler(request, principal, csrf)
            except ParleyError as exc:
                return page("error.html", exc.status, message=exc.message, csrf=csrf)

        return run

    @router.get("")
    async def home() -> Response:
        return RedirectResponse("/console/usage", status_code=303)

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            return Response(status_code=404)
        body = resources.files("parley.console").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"cache-control": "max-age=300"})

    @router.get("/sign-in")
    async def sign_in_page(request: Request) -> Response:
        nonce = new_nonce()
        response = page("sign_in.html", csrf=sessions.csrf(nonce), error=None)
        _cookie(response, PRE_COOKIE, nonce, request, 3600)
        return response

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await _form(request)
        if not sessions.csrf_ok(request.cookies.get(PRE_COOKIE), form.get("csrf")):
            return _refused(page)
        secret = form.get("key", "").strip()
        error = None
        try:
            principal = await services.auth.authenticate(secret, None)
            if not principal.is_admin:
                error = (
                    "That is a workspace API key. The console needs an admin key "
                    "(sk-ant-admin01-…): create one with `parley keys create --admin`."
                )
        except ParleyError:
            error = (
                "No active key has that secret. Check it, or create an admin key with "
                "`parley keys create --admin`."
            )
        if error is not None:
            nonce = new_nonce()
            refused = page("sign_in.html", 401, csrf=sessions.csrf(nonce), error=error)
            _cookie(refused, PRE_COOKIE, nonce, request, 3600)
            return refused
        signed = RedirectResponse("/console/usage", status_code=303)
        _cookie(signed, COOKIE, sessions.issue(secret, services.clock.now()), request, 12 * 3600)
        signed.delete_cookie(PRE_COOKIE, path="/console")
        return signed

    async def sign_out(request: Request, _principal: Principal, _csrf: str) -> Response:
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    router.add_api_route("/sign-out", guarded(sign_out), methods=["POST"])

    async def usage_figures(request: Request, principal: Principal) -> UsageView:
        window = span(
            request.query_params.get("range", "7d"),
            request.query_params.get("bucket", ""),
            datetime.now(UTC),
        )
        reports = services.reports
        args = (principal, window.starting_at, window.ending_at)
        by_time = await reports.totals(*args, window.bucket, [])
        by_dimension = await reports.totals(*args, WHOLE, BREAKDOWNS)
        names = {w.id: w.name for w in await services.admin.workspaces(principal)}
        names |= {k.id: k.name for k in await services.admin.keys(principal)}
        return usage_view(window, by_time, by_dimension, names, services.prices)

    async def usage(request: Request, principal: Principal, csrf: str) -> Response:
        view = await usage_figures(request, principal)
        labels = [_label(start, view.span.bucket) for start in view.span.starts]
        kinds = [
            charts.Series("Uncached input", "s-uncached", [s.uncached for s in view.series]),
            charts.Series("Cache writes", "s-write", [s.writes for s in view.series]),
            charts.Series("Cache reads", "s-read", [s.read for s in view.series]),
            charts.Series("Output", "s-output", [s.output for s in view.series]),
        ]
        cost = [charts.Series("Cost", "s-cost", [float(s.cost) for s in view.series])]

        def drawn(
            series: list[charts.Series], unit: Callable[[float], str], caption: str
        ) -> Markup:
            """The chart twice: for wide screens and for phones (CSS shows one)."""
            return Markup("").join(
                charts.stacked_bars(labels, series, unit, caption, size=size, css=css)
                for size, css in (((720, 240), "wide"), ((360, 260), "narrow"))
            )

        token_chart = drawn(kinds, lambda v: units.tokens(round(v)), "Tokens by kind over time")
        cost_chart = drawn(cost, lambda v: units.usd(Decimal(str(round(v, 9)))), "Cost over time")
        return page(
            "usage.html",
            nav="usage",
            csrf=csrf,
            view=view,
            labels=labels,
            token_chart=token_chart,
            cost_chart=cost_chart,
            ranges=list(RANGES),
            share=units.share,
        )

    async def usage_csv(request: Request, principal: Principal, _csrf: str) -> Response:
        view = await usage_figures(request, principal)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "section",
                "name",
                "requests",
                "uncached_input_tokens",
                "cache_write_tokens",
                "cache_read_tokens",
                "output_tokens",
                "cost_usd",
            ]
        )
        rows = [
            (f"bucket_{view.span.bucket}", start.isoformat(), sums)
            for start, sums in zip(view.span.starts, view.series, strict=True)
        ]
        rows += [
            (b.title, f"{name} ({ident})" if ident else name, sums)
            for b in view.breakdowns
            for name, ident, sums in b.rows
        ]
        for section, name, sums in rows:
            writer.writerow(
                [
                    section,
                    units.spreadsheet_text(name),
                    sums.requests,
                    sums.uncached,
                    sums.writes,
                    sums.read,
                    sums.output,
                    str(Decimal(sums.picodollars) / PICO),
                ]
            )
        filename = f"parley-usage-{view.span.range}-{view.span.bucket}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    async def limit_figures(principal: Principal) -> dict[str, Any]:
        tier = await services.limits.tier(principal.organization_id)
        now = datetime.now(UTC)
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        workspaces = await services.admin.workspaces(principal)
        spent = await services.reports.totals(
            principal, month, now + timedelta(days=1), WHOLE, ["workspace_id"]
        )
        by_workspace: dict[str | None, int] = {}
        for row in spent:
            by_workspace[row.group[0]] = by_workspace.get(row.group[0], 0) + row.cost_picodollars
        month_total = Decimal(sum(by_workspace.values())) / PICO
        classes = sorted({entry.rate_class for entry in services.catalog.entries})
        gauges = []
        owners = [principal] + [
            Principal(principal.key_id, principal.organization_id, w.id, True) for w in workspaces
        ]
        names = {w.id: w.name for w in workspaces}
        seen: set[str] = set()
        for owner in owners:
            for rate_class in classes:
                for metered, left in await services.limits.headroom(owner, rate_class):
                    key = metered.charge.key
                    if key in seen:
                        continue
                    seen.add(key)
                    limit = metered.charge.limit
                    gauges.append(
                        {
                            "owner": "Organization"
                            if metered.owner.kind == "org"
                            else f"Workspace {names.get(metered.owner.id, metered.owner.id)}",
                            "rate_class": rate_class,
                            "limiter": LIMIT_NAMES[metered.limiter],
                            "limit": limit,
                            "left": left,
                            "used_pct": 0 if limit <= 0 else round(100 * (limit - left) / limit, 1),
                        }
                    )
        cap = tier.monthly_cap
        return {
            "tier": tier,
            "month_total": month_total,
            "cap": cap,
            "cap_pct": None if not cap else min(100, round(float(100 * month_total / cap), 1)),
            "workspace_spend": [
                (names.get(wid or "", wid or "—"), Decimal(pico) / PICO)
                for wid, pico in sorted(by_workspace.items(), key=lambda item: -item[1])
            ],
            "gauges": gauges,
        }

    async def limits(request: Request, principal: Principal, csrf: str) -> Response:
        figures = await limit_figures(principal)
        return page("limits.html", nav="limits", csrf=csrf, **figures)

    async def limits_live(request: Request, principal: Principal, csrf: str) -> Response:
        figures = await limit_figures(principal)
        return page("limits_live.html", csrf=csrf, **figures)

    async def keys(request: Request, principal: Principal, csrf: str) -> Response:
        return await keys_page(principal, csrf)

    async def keys_page(
        principal: Principal, csrf: str, created: Any = None, status: int = 200
    ) -> Response:
        workspaces = await services.admin.workspaces(principal)
        return page(
            "keys.html",
            status,
            nav="keys",
            csrf=csrf,
            keys=await services.admin.keys(principal),
            workspaces=workspaces,
            names={w.id: w.name for w in workspaces},
            created=created,
        )

    async def create_key(request: Request, principal: Principal, csrf: str) -> Response:
        form: dict[str, str] = request.state.form
        created = await services.admin.create_key(
            principal, form.get("name", ""), form.get("workspace_id", "")
        )
        return await keys_page(principal, csrf, created=created, status=201)

    async def disable_key(request: Request, principal: Principal, csrf: str) -> Response:
        form: dict[str, str] = request.state.form
        await services.admin.update_key(
            principal, form.get("key_id", ""), name=None, status="inactive"
        )
        return RedirectResponse("/console/keys", status_code=303)

    async def create_workspace(request: Request, principal: Principal, csrf: str) -> Response:
        form: dict[str, str] = request.state.form
        name = form.get("name", "").strip()
        if name:
            await services.admin.create_workspace(principal, name)
        return RedirectResponse("/console/keys", status_code=303)

    async def cache(request: Request, principal: Principal, csrf: str) -> Response:
        now, entries = await services.prompt_cache.entries(principal.organization_id)
        workspaces = {w.id: w.name for w in await services.admin.workspaces(principal)}
        return page(
            "cache.html", nav="cache", csrf=csrf, entries=entries, now=now, names=workspaces
        )

    async def batches(request: Request, principal: Principal, csrf: str) -> Response:
        listed = await services.batches.page(principal, BATCHES_SHOWN, None, None)
        names = {w.id: w.name for w in await services.admin.workspaces(principal)}
        rows = [
            (batch, _progress(await services.batches.live_counts(batch), batch.total))
            for batch in listed.data
        ]
        return page(
            "batches.html",
            nav="batches",
            csrf=csrf,
            rows=rows,
            names=names,
            more=listed.has_more,
            shown=BATCHES_SHOWN,
        )

    async def batch_results(request: Request, principal: Principal, csrf: str) -> Response:
        batch_id = request.path_params["batch_id"]
        lines = await services.batches.results(principal, batch_id)
        return StreamingResponse(
            lines,
            media_type="application/jsonl",
            headers={"content-disposition": f'attachment; filename="{batch_id}_results.jsonl"'},
        )

    async def models(request: Request, principal: Principal, csrf: str) -> Response:
        catalog = services.catalog
        rows = [
            (entry, catalog.aliases_of(entry), services.prices.price_of(entry.id))
            for entry in catalog.entries
        ]
        return page("models.html", nav="models", csrf=csrf, rows=rows)

    for path, handler, methods in [
        ("/usage", usage, ["GET"]),
        ("/usage.csv", usage_csv, ["GET"]),
        ("/limits", limits, ["GET"]),
        ("/limits/live", limits_live, ["GET"]),
        ("/keys", keys, ["GET"]),
        ("/keys/create", create_key, ["POST"]),
        ("/keys/disable", disable_key, ["POST"]),
        ("/workspaces/create", create_workspace, ["POST"]),
        ("/cache", cache, ["GET"]),
        ("/batches", batches, ["GET"]),
        ("/batches/{batch_id}/results", batch_results, ["GET"]),
        ("/models", models, ["GET"]),
    ]:
        router.add_api_route(path, guarded(handler), methods=methods)
    return router


def _refused(page: Callable[..., HTMLResponse]) -> HTMLResponse:
    return page(
        "error.html",
        403,
        message="This form was not sent from this console session (its security token is "
        "missing or stale). Reload the page and try again.",
        csrf=None,
    )


PROGRESS = ("succeeded", "errored", "canceled", "expired", "processing")


def _progress(counts: dict[str, int], total: int) -> list[tuple[str, int, float]]:
    """Each state's count and share of the batch, in the order the bar draws them."""
    return [
        (state, counts.get(state, 0), 0.0 if total <= 0 else 100 * counts.get(state, 0) / total)
        for state in PROGRESS
    ]


def _label(start: datetime, bucket: str) -> str:
    """A day's date; an hour's time, or its date at midnight."""
    if bucket == "1d" or (start.hour == 0):
        return start.strftime("%d %b")
    return start.strftime("%H:00")
