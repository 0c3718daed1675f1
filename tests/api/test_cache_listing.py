"""`GET /parley/cache` and `parley cache`: live entries for operators, admin keys only."""

from __future__ import annotations

import subprocess
import sys

import anthropic
import httpx

from tests.factories import cached, manual
from tests.helpers import ADMIN_KEY, MODEL

QUESTION = [{"role": "user", "content": "Which valve?"}]


def test_an_admin_sees_each_entry_with_its_prefix_ttl_and_hits(
    base_url: str, client: anthropic.Anthropic
) -> None:
    system = [cached(manual("listing"), "1h")]
    for _ in range(3):  # one write, two hits
        usage = client.messages.create(
            model=MODEL, max_tokens=1, system=system, messages=QUESTION
        ).usage  # type: ignore[arg-type]
    listed = httpx.get(f"{base_url}/parley/cache", headers={"x-api-key": ADMIN_KEY}).json()
    (entry,) = [e for e in listed["data"] if e["prefix_tokens"] == usage.cache_read_input_tokens]
    assert (entry["model"], entry["ttl"], entry["hits"]) == (MODEL, "1h", 2)
    assert 3500 < entry["ttl_left_seconds"] <= 3600


def test_a_workspace_key_may_not_list_entries(http: httpx.Client) -> None:
    response = http.get("/parley/cache")
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


def test_the_cache_command_prints_the_entries(base_url: str, client: anthropic.Anthropic) -> None:
    system = [cached(manual("command"))]
    usage = client.messages.create(
        model=MODEL, max_tokens=1, system=system, messages=QUESTION
    ).usage  # type: ignore[arg-type]
    result = subprocess.run(
        [sys.executable, "-m", "parley", "cache", "--url", base_url, "--key", ADMIN_KEY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert str(usage.cache_creation_input_tokens) in result.stdout
    assert "prefix tokens" in result.stdout
