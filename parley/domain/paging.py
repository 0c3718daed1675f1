"""Cursor paging shared by list endpoints: `limit`, `after_id`, `before_id`, newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from parley.errors import InvalidRequestError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    has_more: bool
    first_id: str | None
    last_id: str | None


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    limit: int = 20,
    after_id: str | None = None,
    before_id: str | None = None,
) -> Page[T]:
    """Slice `items` (already newest first) the way the hosted list endpoints do."""
    if not 1 <= limit <= 1000:
        raise InvalidRequestError("limit: Input should be between 1 and 1000")
    if after_id is not None and before_id is not None:
        raise InvalidRequestError("after_id and before_id cannot both be set")
    ids = [key(item) for item in items]
    if before_id is not None:
        end = _position(ids, before_id, "before_id")
        start = max(0, end - limit)
        window = list(items[start:end])
        has_more = start > 0
    else:
        start = _position(ids, after_id, "after_id") + 1 if after_id is not None else 0
        window = list(items[start : start + limit])
        has_more = start + limit < len(items)
    return Page(
        data=window,
        has_more=has_more,
        first_id=key(window[0]) if window else None,
        last_id=key(window[-1]) if window else None,
    )


def _position(ids: list[str], wanted: str, field: str) -> int:
    try:
        return ids.index(wanted)
    except ValueError:
        raise InvalidRequestError(f"{field}: no object with id {wanted!r}") from None
