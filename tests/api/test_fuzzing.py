"""A bounded Schemathesis run (bench/fuzzing.py) against a real server: every operation of
/openapi.json with valid and invalid bodies, headers, query strings and paths, as a workspace
key and as an admin key. No 5xx, every error in its surface's shape with the status its type
has, every 200 valid against the description. Breadth over a FakeEngine; then a few requests
on the real model. `PARLEY_FUZZ_EXAMPLES` raises the cases per operation, mode and key."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzzing import Fuzzer, an_ended_batch, fuzz_for
from parley.settings import LimitsSettings, Settings, TierSource
from tests.helpers import ADMIN_KEY, API_KEY, MODEL, create_keys, fake_app, free_port, serving

EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "3"))
KEYS = {"workspace": API_KEY, "admin": ADMIN_KEY}


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    data_dir: Path = tmp_path_factory.mktemp("fuzzing")
    settings = Settings(
        data_dir=data_dir,
        port=free_port(),
        limits=LimitsSettings(tiers=[TierSource(name="open")], default_tier="open"),
    )
    create_keys(settings)
    with serving(fake_app(settings), settings) as url:
        yield Fuzzer(url, KEYS, model=MODEL, objects={"batch_id": an_ended_batch(url, API_KEY)})


def test_fuzzed_requests_get_contract_answers_only(fuzzer: Fuzzer) -> None:
    fuzz_for(fuzzer, 0, EXAMPLES, list(KEYS))
    tally = fuzzer.tally
    print(f"fuzzed {tally.tried} requests; statuses {dict(sorted(tally.statuses.items()))}")
    assert tally.failures == Counter(), tally.examples
    assert set(tally.by_operation) == {op.label for op in fuzzer.operations()}
    assert tally.statuses[200] > 0 and tally.statuses[400] > 0
    for label in BATCH_OPERATIONS_THAT_REACH_IT:
        assert tally.answers[(label, 200)] > 0, label


# The batch operations whose steered cases reach the ended batch, fuzzed in the table's order
# (cancel before the path of get and delete); the results come after a case has deleted it,
# so they answer 404.
BATCH_OPERATIONS_THAT_REACH_IT = (
    "POST /v1/messages/batches",
    "GET /v1/messages/batches",
    "POST /v1/messages/batches/{batch_id}/cancel",
    "GET /v1/messages/batches/{batch_id}",
    "DELETE /v1/messages/batches/{batch_id}",
)


def test_fuzzed_messages_on_the_real_model_get_contract_answers_only(base_url: str) -> None:
    fuzzer = Fuzzer(base_url, KEYS, model=MODEL, max_tokens=2)
    for operation in fuzzer.operations():
        if operation.path in ("/v1/messages", "/v1/messages/count_tokens"):
            for mode in ("valid", "invalid"):
                fuzzer.run(operation, mode, "workspace", 4, seed=1)
    assert fuzzer.tally.failures == Counter(), fuzzer.tally.examples
    assert fuzzer.tally.tried == 16
