"""Fuzzing a running Parley through its own OpenAPI description with Schemathesis: what
bench/fuzz.py runs for minutes and tests/api/test_fuzzing.py runs for a bounded number of
cases. Every answer is checked: no 5xx; an error in its surface's shape (the description's
`default` response) with a status that matches its type; a 200's JSON valid against the
description."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import jsonschema
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case

# The first-party envelope's error type for each status (the contract's table; its other 4xx
# are invalid_request_error).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    431: "invalid_request_error",
    529: "overloaded_error",
}
MODES = {"valid": GenerationMode.POSITIVE, "invalid": GenerationMode.NEGATIVE}


@dataclass
class Tally:
    """What a run tried and saw; `failures` holds the first few of each kind in full."""

    tried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, kind: str, case: Case, detail: str) -> None:
        self.failures[kind] += 1
        if sum(1 for e in self.examples if e["kind"] == kind) < 3:
            self.examples.append(
                {
                    "kind": kind,
                    "operation": case.operation.label,
                    "path": case.formatted_path,
                    "query": case.query,
                    "headers": {k: v for k, v in (case.headers or {}).items() if k != "x-api-key"},
                    "body": repr(case.body)[:2000],
                    "detail": detail[:2000],
                }
            )


class Fuzzer:
    """`key`s by caller name; `model`: a served model id, put into half the valid bodies so
    they get past model resolution; `max_tokens`: the most a valid body may ask for (keeps
    runs on a real model short); `objects`: path parameter values naming objects that exist
    (a batch id), put in place of the documented examples in those same valid cases."""

    def __init__(
        self,
        base_url: str,
        keys: dict[str, str],
        *,
        model: str,
        max_tokens: int = 16,
        objects: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.keys = keys
        self.model = model
        self.max_tokens = max_tokens
        self.objects = objects or {}
        self.document: dict[str, Any] = requests.get(f"{base_url}/openapi.json", timeout=30).json()
        self.schema = schemathesis.openapi.from_dict(self.document)
        self.session = requests.Session()
        self.tally = Tally()

    def operations(self) -> list[Any]:
        return [result.ok() for result in self.schema.get_all_operations()]

    def run(self, operation: Any, mode: str, caller: str, examples: int, seed: int) -> None:
        """`examples` cases of `operation` in `mode` ("valid" or "invalid") as `caller`."""
        strategy = operation.as_strategy(generation_mode=MODES[mode])

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.seed(seed)
        @hypothesis.given(strategy)
        def exercise(case: Case) -> None:
            self.exercise(case, mode, caller)

        # An operation that takes no input has no invalid request: Unsatisfiable.
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            exercise()

    def exercise(self, case: Case, mode: str, caller: str) -> None:
        self._steer(case, mode)
        self.tally.tried += 1
        self.tally.by_operation[case.operation.label] += 1
        try:
            response = case.call(
                base_url=self.base_url,
                session=self.session,
                headers={"x-api-key": self.keys[caller]},
                timeout=60,
            )
        except requests.RequestException as exc:
            self.tally.statuses[0] += 1
            self.tally.fail("no answer", case, repr(exc))
            return
        self.tally.statuses[response.status_code] += 1
        self.tally.answers[(case.operation.label, response.status_code)] += 1
        for kind, detail in self.problems(case, response):
            self.tally.fail(kind, case, detail)

    def _steer(self, case: Case, mode: str) -> None:
        """Every other valid case names a served model, in its body and with the documented
        example of each path parameter (a Vertex or Bedrock model id) or an object that exists;
        no body asks for many tokens (an invalid one may be invalid elsewhere and still
        generate)."""
        if mode == "valid" and self.tally.tried % 2 == 0:
            examples = {
                p["name"]: self.objects.get(p["name"], p["example"])
                for p in case.operation.definition.raw.get("parameters", [])
                if p["in"] == "path"
            }
            if case.path_parameters:
                case.path_parameters.update(examples)
            if isinstance(case.body, dict) and "model" in case.body:
                case.body["model"] = self.model
        if isinstance(case.body, dict):
            tokens = case.body.get("max_tokens")  # 1567.0 is a valid integer too
            if isinstance(tokens, int | float) and tokens > self.max_tokens:
                case.body["max_tokens"] = self.max_tokens

    def problems(self, case: Case, response: Response) -> list[tuple[str, str]]:
        status = response.status_code
        surface = case.operation.definition.raw.get("tags", ["claude_api"])[0]
        if status >= 500:
            return [(f"{status} answer", response.text_lossy())]
        responses = case.operation.definition.raw["responses"]
        content_type = response.headers.get("content-type", [""])[0].split(";")[0]
        if status >= 400:
            schema = responses["default"]["content"]["application/json"]["schema"]
            found = self._invalid(response, schema)
            if found and not self._unrouted(response):
                return [("error not in the surface's shape", found)]
            if found:
                surface = "claude_api"
            if surface in ("claude_api", "operator"):
                error_type = response.json()["error"]["type"]
                if ERROR_TYPES.get(status) != error_type:
                    return [("error type does not match status", f"{status} {error_type}")]
            return []
        declared = responses[str(status)]["content"] if str(status) in responses else {}
        if content_type not in declared:
            return [("undeclared answer", f"{status} {content_type}")]
        if content_type == "application/json":
            found = self._invalid(response, declared[content_type]["schema"])
            if found:
                return [("answer not valid against the description", found)]
        return []

    def _unrouted(self, response: Response) -> bool:
        """The app's own 404 for a path no route matches (on a partner surface's prefix too,
        e.g. an id with a newline, which path parameters never match)."""
        envelope = {"$ref": "#/components/schemas/ErrorResponse"}
        return (
            response.status_code == 404
            and self._invalid(response, envelope) is None
            and str(response.json()["error"]["message"]).startswith("Not found: ")
        )

    def _invalid(self, response: Response, schema: dict[str, Any]) -> str | None:
        try:
            body = response.json()
        except ValueError:
            return f"not JSON: {response.text_lossy()[:200]}"
        try:
            jsonschema.validate(body, {**schema, "components": self.document["components"]})
        except jsonschema.ValidationError as exc:
            return f"{exc.message} at {list(exc.absolute_path)}"
        return None


def an_ended_batch(base_url: str, key: str, wait: float = 10) -> str:
    """A Message Batch of `key`'s workspace, canceled until it has ended (within `wait`
    seconds): the `batch_id` the valid cases of the batch operations name (`objects`), so
    they reach a real batch, not only the 404 of an unknown id."""
    headers = {"x-api-key": key}
    body = {"requests": [{"custom_id": "only", "params": {"max_tokens": 1, "messages": []}}]}
    made = requests.post(f"{base_url}/v1/messages/batches", json=body, headers=headers, timeout=30)
    batch = str(made.json()["id"])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        url = f"{base_url}/v1/messages/batches/{batch}/cancel"
        if requests.post(url, headers=headers, timeout=30).json()["processing_status"] == "ended":
            return batch
        time.sleep(0.05)
    raise RuntimeError(f"batch {batch} did not end within {wait} s")


def fuzz_for(fuzzer: Fuzzer, seconds: float, examples: int, callers: list[str]) -> float:
    """Rounds over every operation x mode x caller, `examples` cases each with a new seed,
    until `seconds` have passed (0: one whole round). Returns the seconds taken."""
    started = time.monotonic()
    seed = 0
    while True:
        for operation in fuzzer.operations():
            for mode in MODES:
                for caller in callers:
                    seed += 1
                    fuzzer.run(operation, mode, caller, examples, seed)
                    if seconds and time.monotonic() - started >= seconds:
                        return time.monotonic() - started
        if time.monotonic() - started >= seconds:
            return time.monotonic() - started
