"""Batch-level rules and the cache-aware grouping of a batch's requests."""

from __future__ import annotations

from typing import Any

import pytest

from parley.domain.batches import check_requests, new_requests, prefix_key
from parley.errors import InvalidRequestError, RequestTooLargeError


def params(question: str, **fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": question}]} | (
        fields
    )


def test_requests_with_the_same_system_share_a_prefix_whatever_the_question() -> None:
    assert prefix_key(params("a", system="doc")) == prefix_key(params("b", system="doc"))
    assert prefix_key(params("a", system="doc")) != prefix_key(params("a", system="other"))


def test_the_last_block_of_the_last_message_is_not_part_of_the_prefix() -> None:
    def blocks(question: str) -> dict[str, Any]:
        content = [{"type": "text", "text": "doc"}, {"type": "text", "text": question}]
        return {"model": "m", "messages": [{"role": "user", "content": content}]}

    assert prefix_key(blocks("a")) == prefix_key(blocks("b")) != ""


def test_a_lone_question_has_no_prefix_to_share() -> None:
    assert prefix_key(params("a")) == ""


def test_the_first_request_of_a_group_leads_it() -> None:
    made = new_requests(
        [("a", params("1", system="d")), ("b", params("2")), ("c", params("3", system="d"))]
    )
    assert [(r.custom_id, r.rank) for r in made] == [("a", 0), ("b", 0), ("c", 1)]
    assert made[2].leader_id == made[0].id
    assert made[0].leader_id is None and made[1].leader_id is None


def test_a_batch_keeps_its_requests_in_order() -> None:
    checked = check_requests([{"custom_id": "x", "params": {}}, {"custom_id": "y", "params": {}}])
    assert checked == [("x", {}), ("y", {})]


def test_params_that_are_not_an_object_refuse_the_batch() -> None:
    with pytest.raises(InvalidRequestError, match=r"^requests.0.params: Input should be a valid"):
        check_requests([{"custom_id": "x", "params": []}])


def test_more_than_100000_requests_is_too_large() -> None:
    with pytest.raises(RequestTooLargeError):
        check_requests([{"custom_id": "x", "params": {}}] * 100_001)
