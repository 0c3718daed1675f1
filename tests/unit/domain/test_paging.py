"""paginate: the hosted list endpoints' cursor paging over items already newest first."""

from __future__ import annotations

import pytest

from parley.domain.paging import Page, paginate
from parley.errors import InvalidRequestError

IDS = ["e", "d", "c", "b", "a"]  # newest first


def page(limit: int = 20, after_id: str | None = None, before_id: str | None = None) -> Page[str]:
    return paginate(IDS, key=lambda item: item, limit=limit, after_id=after_id, before_id=before_id)


def test_the_default_page_holds_everything_when_it_fits() -> None:
    assert page() == Page(data=IDS, has_more=False, first_id="e", last_id="a")


def test_the_default_limit_is_20() -> None:
    many = [f"m{i:02d}" for i in range(25)]
    first = paginate(many, key=lambda item: item)
    assert (len(first.data), first.has_more, first.last_id) == (20, True, "m19")


def test_a_limit_cuts_the_page_and_says_there_is_more() -> None:
    assert page(limit=2) == Page(data=["e", "d"], has_more=True, first_id="e", last_id="d")


def test_after_id_continues_past_that_item() -> None:
    assert page(limit=2, after_id="d") == Page(
        data=["c", "b"], has_more=True, first_id="c", last_id="b"
    )


def test_the_last_page_after_id_has_no_more() -> None:
    assert page(limit=2, after_id="b") == Page(
        data=["a"], has_more=False, first_id="a", last_id="a"
    )


def test_after_the_last_item_the_page_is_empty() -> None:
    assert page(after_id="a") == Page(data=[], has_more=False, first_id=None, last_id=None)


def test_before_id_returns_the_items_just_before_it() -> None:
    assert page(limit=1, before_id="c") == Page(
        data=["d"], has_more=True, first_id="d", last_id="d"
    )


def test_before_id_reaching_the_start_has_no_more() -> None:
    assert page(limit=5, before_id="c") == Page(
        data=["e", "d"], has_more=False, first_id="e", last_id="d"
    )


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_a_limit_out_of_1_to_1000_is_a_400(limit: int) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        page(limit=limit)
    assert raised.value.message == "limit: Input should be between 1 and 1000"


def test_limits_1_and_1000_are_accepted() -> None:
    assert len(page(limit=1).data) == 1
    assert len(page(limit=1000).data) == 5


def test_after_id_and_before_id_together_are_a_400() -> None:
    with pytest.raises(InvalidRequestError, match="cannot both be set"):
        page(after_id="d", before_id="b")


@pytest.mark.parametrize("field", ["after_id", "before_id"])
def test_an_unknown_cursor_is_a_400_naming_the_field(field: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        page(after_id="zz") if field == "after_id" else page(before_id="zz")
    assert raised.value.message == f"{field}: no object with id 'zz'"


def test_an_empty_list_gives_an_empty_page() -> None:
    assert paginate([], key=lambda item: item) == Page(
        data=[], has_more=False, first_id=None, last_id=None
    )
