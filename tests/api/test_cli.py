"""The `parley` command, run as a real subprocess (`python -m parley`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.helpers import MODEL, blocking, free_port

pytestmark = pytest.mark.slow

IMPORTED = "sk-ant-api03-imported-by-the-cli-test"


def environment(**extra: str) -> dict[str, str]:
    """The parent's environment without any PARLEY_* setting, plus `extra`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return {**clean, "COLUMNS": "200", **extra}


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


@pytest.fixture(scope="module")
def created_key(data_dir: Path) -> str:
    result = parley("keys", "create", "--data-dir", str(data_dir), "--name", "x")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def imported(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return parley("keys", "create", "--data-dir", str(data_dir), "--name", "i", "--key", IMPORTED)


def test_keys_create_prints_the_new_key_as_the_last_line(created_key: str) -> None:
    assert created_key.startswith("sk-ant-api03-")
    assert len(created_key) > 60


def test_keys_create_with_key_imports_that_secret(
    imported: subprocess.CompletedProcess[str],
) -> None:
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[-1] == IMPORTED


def test_keys_create_refuses_a_secret_that_exists(data_dir: Path, created_key: str) -> None:
    result = parley("keys", "create", "--data-dir", str(data_dir), "--key", created_key)
    assert result.returncode == 1
    assert "already exists" in result.stdout


def test_models_lists_the_pinned_id_and_its_aliases(data_dir: Path) -> None:
    result = parley("models", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert MODEL in result.stdout
    assert "smollm2, smollm2-135m" in result.stdout


@pytest.fixture(scope="module")
def served(data_dir: Path, created_key: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(PARLEY_ENGINE__KV_CELLS="4096", PARLEY_ENGINE__THREADS="2"),
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process, seconds=90)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until_healthy(base_url: str, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"parley serve exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"parley serve was not healthy within {seconds} s")


def test_serve_answers_healthz(served: str) -> None:
    response = httpx.get(f"{served}/healthz", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_serve_answers_the_sdk_with_the_created_key(served: str, created_key: str) -> None:
    client = anthropic.Anthropic(base_url=served, api_key=created_key, max_retries=0)
    message = client.messages.create(
        model="smollm2-135m", max_tokens=2, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.model == MODEL
    assert message.usage.output_tokens >= 1


def test_serve_refuses_a_key_from_elsewhere(served: str) -> None:
    client = anthropic.Anthropic(base_url=served, api_key="sk-ant-api03-unknown", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.models.list()


def test_serve_accepts_the_imported_key(
    served: str, imported: subprocess.CompletedProcess[str]
) -> None:
    client = anthropic.Anthropic(base_url=served, api_key=IMPORTED, max_retries=0)
    assert [model.id for model in client.models.list()] == [MODEL]


def test_usage_prints_the_ledger_grouped_and_writes_csv(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from parley.store.db import connect
    from parley.store.keys import KeyStore
    from parley.store.ledger import LedgerStore
    from tests.factories import ledger_entry

    data_dir = tmp_path
    engine = connect(f"sqlite:///{data_dir / 'parley.db'}")
    principal = blocking(KeyStore(engine).create(name="usage")).principal
    now = datetime.now(UTC)
    entry = ledger_entry(
        organization_id=principal.organization_id,
        workspace_id=principal.workspace_id,
        api_key_id=principal.key_id,
        model=MODEL,
        uncached_input_tokens=1234,
        output_tokens=56,
        cost_picodollars=151_400_000,
        cost_uncached_picodollars=123_400_000,
        cost_output_picodollars=28_000_000,
        started_at=now,
        completed_at=now,
    )
    blocking(LedgerStore(engine).record(entry))
    csv_path = data_dir / "usage.csv"
    result = parley(
        "usage", "--data-dir", str(data_dir), "--group-by", "model", "--csv", str(csv_path)
    )
    assert result.returncode == 0, result.stderr
    assert MODEL in result.stdout and "1234" in result.stdout
    assert "cost: $0.000151" in result.stdout
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "bucket,model,uncached_input,cache_write,cache_read,output"
    assert lines[1].endswith(f",{MODEL},1234,0,0,56")


def test_usage_groups_by_surface_and_region(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from parley.store.db import connect
    from parley.store.keys import KeyStore
    from parley.store.ledger import LedgerStore
    from tests.factories import ledger_entry

    engine = connect(f"sqlite:///{tmp_path / 'parley.db'}")
    principal = blocking(KeyStore(engine).create(name="usage")).principal
    now = datetime.now(UTC)
    for number, (surface, region) in enumerate(
        [("vertex", "europe-west1"), ("bedrock", "us-east-1"), ("vertex", "europe-west1")]
    ):
        row = ledger_entry(
            request_id=f"req_{number}",
            organization_id=principal.organization_id,
            surface=surface,
            region=region,
            output_tokens=10 + number,
            started_at=now,
            completed_at=now,
        )
        blocking(LedgerStore(engine).record(row))
    csv_path = tmp_path / "usage.csv"
    args = ["--group-by", "surface", "--group-by", "region", "--csv", str(csv_path)]
    result = parley("usage", "--data-dir", str(tmp_path), *args)
    assert result.returncode == 0, result.stderr
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "bucket,surface,region,uncached_input,cache_write,cache_read,output"
    assert [line.split(",", 1)[1] for line in lines[1:]] == [
        "bedrock,us-east-1,0,0,0,11",
        "vertex,europe-west1,0,0,0,22",
    ]


def test_workspaces_and_keys_are_managed_from_the_shell(tmp_path: Path) -> None:
    created = parley("keys", "create", "--data-dir", str(tmp_path), "--name", "shell")
    assert created.returncode == 0, created.stderr
    made = parley("workspaces", "create", "research", "--data-dir", str(tmp_path))
    assert made.returncode == 0 and "research" in made.stdout
    listed = parley("workspaces", "list", "--data-dir", str(tmp_path))
    assert "research" in listed.stdout and "default" in listed.stdout
    keys = parley("keys", "list", "--data-dir", str(tmp_path))
    key_id = next(word for word in keys.stdout.split() if word.startswith("apikey_"))
    assert created.stdout.splitlines()[-1] not in keys.stdout  # never the secret
    disabled = parley("keys", "disable", key_id, "--data-dir", str(tmp_path))
    assert disabled.returncode == 0 and "inactive" in disabled.stdout
    assert "inactive" in parley("keys", "list", "--data-dir", str(tmp_path)).stdout
