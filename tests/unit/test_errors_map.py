"""Drift test: every status of the contract's error table has exactly one ParleyError class;
the contract's other 4xx are `invalid_request_error`s."""

from __future__ import annotations

import pytest

from parley.errors import ERROR_CLASSES, ParleyError

CONTRACT_STATUS_TABLE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@pytest.mark.parametrize(("status", "error_type"), sorted(CONTRACT_STATUS_TABLE.items()))
def test_each_contract_status_maps_to_exactly_one_class(status: int, error_type: str) -> None:
    matching = [cls for cls in ERROR_CLASSES if cls.status == status]
    assert len(matching) == 1, matching
    assert matching[0].error_type == error_type


def test_a_status_outside_the_table_is_an_invalid_request_error() -> None:
    unlisted = [cls for cls in ERROR_CLASSES if cls.status not in CONTRACT_STATUS_TABLE]
    assert [(cls.status, cls.error_type) for cls in unlisted] == [(408, "invalid_request_error")]


def test_no_two_classes_share_a_status() -> None:
    statuses = [cls.status for cls in ERROR_CLASSES]
    assert len(statuses) == len(set(statuses))


def test_every_error_class_is_listed() -> None:
    def subclasses(cls: type[ParleyError]) -> set[type[ParleyError]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    assert subclasses(ParleyError) == set(ERROR_CLASSES)


def test_error_code_travels_in_details() -> None:
    error = ERROR_CLASSES[0]("no", error_code="enforced_spend_limit_reached")
    assert error.details == {"error_code": "enforced_spend_limit_reached"}
