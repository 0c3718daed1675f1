"""What the partner-cloud surfaces share: a route class that answers every error in the
surface's own shape, and the body translation (the first-party body less `model`, with the API
version in the body as `anthropic_version`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from parley.errors import InternalServerError, InvalidRequestError, ParleyError
from parley.routes.access import note_error
from parley.routes.errors import request_id_of

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[ParleyError, str | None], Response]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# Headers of a refusal that mean the same on every surface (the rate-limit ones are 1P only).
KEPT_ERROR_HEADERS = ("retry-after",)


def surface_route(render: ErrorRenderer) -> type[APIRoute]:
    """A route class whose handlers answer errors through `render`, so a surface's clients see
    their cloud's error shape and status, never the first-party envelope."""

    class SurfaceRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except ParleyError as exc:
                    note_error(request, exc)
                    return render(exc, request_id_of(request))
                except Exception:
                    request_id = request_id_of(request)
                    log.exception(
                        "unhandled error in request %s",
                        request_id,
                        extra={"request_id": request_id},
                    )
                    error = InternalServerError("Internal server error")
                    note_error(request, error)
                    return render(error, request_id)

            return answer

    return SurfaceRoute


def kept_headers(exc: ParleyError) -> dict[str, str]:
    return {name: value for name, value in exc.headers.items() if name in KEPT_ERROR_HEADERS}


def translate_body(
    body: Any, versions: Mapping[str, str], *, refused: Collection[str], dropped: Collection[str]
) -> tuple[dict[str, Any], str]:
    """The body's fields less `anthropic_version`, and the first-party API version its value
    stands for. `refused` fields are a 400 (the URL carries them); `dropped` ones are removed."""
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    fields = dict(body)
    given = fields.pop("anthropic_version", None)
    if given is None:
        raise InvalidRequestError("anthropic_version: Field required")
    if given not in versions:
        raise InvalidRequestError(f'anthropic_version: "{given}" is not a valid version')
    for name in refused:
        if name in fields:
            raise InvalidRequestError(f"{name}: Extra inputs are not permitted")
    for name in dropped:
        fields.pop(name, None)
    return fields, versions[given]
