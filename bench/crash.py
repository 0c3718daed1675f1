"""Crash benchmark: kill -9 a loaded `parley serve` at a random moment, restart it, and check
the ledger, `--runs` times in a row (default 20) on one database.

Each run starts the server, creates a message batch of `--batch-size` requests (the server's
own worker runs it; the traffic starts once a random number of them have ended), sets
`--clients` clients sending traffic (each request is one of the `TRAFFIC` kinds, in turn: a
JSON answer or a stream), kills the server with SIGKILL at a random moment (once a random
number of requests, 1 to `--max-finished`, have finished, and a random 0 to `--max-delay`
seconds later), restarts it and waits for the batch to end. Then, in the SQLite database:
every request answered with a 200 (a JSON body read whole, or a stream that reached
`message_stop`) has exactly one ledger row, with the input and output tokens its answer
reported; the batch's results hold one line per `custom_id`, and its ledger rows are exactly
its succeeded requests, each with the tokens its result reported; no message is billed twice;
and `PRAGMA integrity_check` says `ok`. Rows of requests the client never saw finish (billed
just before the kill) are counted, not failures: the work was done.

A new kind of interactive traffic is one more coroutine in `TRAFFIC` that returns its
answers: what it finished, with the request id and tokens to look up in the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

import server
from harness import machine_info, parley_headers, sse_events, write_json

# A killed worker's batch requests are claimed again after the lease: short, so a run
# does not wait the default minute.
BATCH_ENV = {"PARLEY_BATCHES__LEASE_SECONDS": "2", "PARLEY_BATCHES__POLL_SECONDS": "0.1"}


@dataclass
class Answer:
    """A request as its client saw it: `finished` with a 200 whole (for a stream: its
    `message_stop` arrived), and the tokens the answer reported."""

    kind: str
    request_id: str | None
    finished: bool
    input_tokens: int | None = None
    output_tokens: int | None = None


def request_body(n: int, *, stream: bool) -> dict[str, Any]:
    return {
        "model": "smollm2",
        "max_tokens": 4 + n % 13,
        "stream": stream,
        "messages": [{"role": "user", "content": f"Tell me about the number {n}."}],
    }


async def create_batch(url: str, key: str, run: int, size: int) -> tuple[str, list[str]]:
    """A batch of `size` short requests; its id and custom ids."""
    custom_ids = [f"run{run}-{k}" for k in range(size)]
    requests = [
        {"custom_id": custom_id, "params": request_body(run * 1000 + k, stream=False)}
        for k, custom_id in enumerate(custom_ids)
    ]
    async with httpx.AsyncClient(headers=parley_headers(key), timeout=60) as client:
        response = await client.post(f"{url}/v1/messages/batches", json={"requests": requests})
        response.raise_for_status()
        return response.json()["id"], custom_ids


async def batch_results(url: str, key: str, batch_id: str, timeout: float) -> list[Any] | None:
    """The ended batch's result lines; None if it did not end within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(headers=parley_headers(key), timeout=60) as client:
        while True:
            batch = (await client.get(f"{url}/v1/messages/batches/{batch_id}")).json()
            if batch["processing_status"] == "ended":
                break
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.2)
        response = await client.get(f"{url}/v1/messages/batches/{batch_id}/results")
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


async def message(client: httpx.AsyncClient, url: str, n: int) -> Answer:
    answer = Answer("message", None, False)
    try:
        response = await client.post(f"{url}/v1/messages", json=request_body(n, stream=False))
        answer.request_id = response.headers.get("request-id")
        if response.status_code == 200:
            usage = response.json()["usage"]
            answer.input_tokens, answer.output_tokens = (
                usage["input_tokens"],
                usage["output_tokens"],
            )
            answer.finished = True
    except (httpx.HTTPError, ValueError):
        pass  # the server died under it
    return answer


async def stream(client: httpx.AsyncClient, url: str, n: int) -> Answer:
    answer = Answer("stream", None, False)
    try:
        body = request_body(n, stream=True)
        async with client.stream("POST", f"{url}/v1/messages", json=body) as response:
            answer.request_id = response.headers.get("request-id")
            if response.status_code != 200:
                return answer
            async for event, data in sse_events(response):
                payload = json.loads(data)
                if event == "message_start":
                    answer.input_tokens = payload["message"]["usage"]["input_tokens"]
                elif event == "message_delta":
                    answer.output_tokens = payload["usage"]["output_tokens"]
                elif event == "message_stop":
                    answer.finished = True
    except (httpx.HTTPError, ValueError):
        pass
    return answer


Traffic = Callable[[httpx.AsyncClient, str, int], Awaitable[Answer]]
TRAFFIC: list[Traffic] = [message, stream]


async def load(
    url: str, key: str, clients: int, dead: asyncio.Event, answers: list[Answer]
) -> list[Answer]:
    """Sends traffic from `clients` clients until the server is dead, into `answers`."""
    numbers = iter(range(10**9))

    async def one_client(client: httpx.AsyncClient, first: int) -> None:
        turn = first
        while not dead.is_set():
            n = next(numbers)
            answers.append(await TRAFFIC[turn % len(TRAFFIC)](client, url, n))
            turn += 1

    async with httpx.AsyncClient(headers=parley_headers(key), timeout=60) as client:
        await asyncio.gather(*(one_client(client, i) for i in range(clients)))
    return answers


async def kill_under_load(
    url: str, key: str, process: Any, args: argparse.Namespace, moment: tuple[int, float]
) -> list[Answer]:
    """Kills the server once `moment[0]` requests have finished, `moment[1]` seconds later:
    a random moment that is mid-load whatever the machine's speed."""
    dead = asyncio.Event()
    answers: list[Answer] = []
    running = asyncio.ensure_future(load(url, key, args.clients, dead, answers))
    finished, delay = moment
    while sum(a.finished for a in answers) < finished and not running.done():
        await asyncio.sleep(0.02)
    await asyncio.sleep(delay)
    process.kill()  # SIGKILL: no shutdown code runs
    await asyncio.to_thread(process.wait)
    dead.set()
    return await running


def check_batch(
    database: Path, batch_id: str, custom_ids: list[str], lines: list[Any] | None
) -> dict[str, Any]:
    """One result line per custom_id; a ledger row for each succeeded request, with its
    result's tokens, and for nothing else of the batch."""
    if lines is None:
        return {
            "batch_requests": len(custom_ids),
            "batch_ended": False,
            "batch_lines_ok": False,
            "batch_wrong_rows": [],
        }
    with sqlite3.connect(database) as db:
        rows = {
            message_id: (uncached, output)
            for message_id, uncached, output in db.execute(
                "SELECT message_id, uncached_input_tokens, output_tokens FROM ledger "
                "WHERE request_id IN (SELECT id FROM batch_requests WHERE batch_id = ?)",
                (batch_id,),
            )
        }
    succeeded = {
        line["result"]["message"]["id"]: line["result"]["message"]["usage"]
        for line in lines
        if line["result"]["type"] == "succeeded"
    }
    billed = {
        message_id: (usage["input_tokens"], usage["output_tokens"])
        for message_id, usage in succeeded.items()
    }
    return {
        "batch_requests": len(custom_ids),
        "batch_ended": True,
        "batch_succeeded": len(succeeded),
        "batch_lines_ok": sorted(line["custom_id"] for line in lines) == sorted(custom_ids),
        "batch_wrong_rows": sorted(set(rows.items()) ^ set(billed.items())),
    }


def batch_ended_requests(database: Path, batch_id: str) -> int:
    """How many of the batch's requests had ended (the kill came in the middle if some had
    and some had not)."""
    with sqlite3.connect(database) as db:
        query = "SELECT COUNT(*) FROM batch_requests WHERE batch_id = ? AND state != 'processing'"
        return int(db.execute(query, (batch_id,)).fetchone()[0])


def check(database: Path, answers: list[Answer]) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = {
            request_id: (uncached, output)
            for request_id, uncached, output in db.execute(
                "SELECT request_id, uncached_input_tokens, output_tokens FROM ledger"
            )
        }
        twice = db.execute(
            "SELECT COUNT(*) FROM (SELECT message_id FROM ledger GROUP BY message_id "
            "HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finished = [a for a in answers if a.finished]
    lost = [a.request_id for a in finished if a.request_id not in rows]
    wrong = [
        a.request_id
        for a in finished
        if a.request_id in rows and rows[a.request_id] != (a.input_tokens, a.output_tokens)
    ]
    unseen = [a for a in answers if not a.finished and a.request_id in rows]
    return {
        "requests": len(answers),
        "finished_messages": sum(a.kind == "message" for a in finished),
        "finished_streams": sum(a.kind == "stream" for a in finished),
        "lost": lost,
        "wrong_tokens": wrong,
        "messages_billed_twice": twice,
        "billed_unfinished": len(unseen),
        "integrity": integrity,
    }


def one_run(
    data_dir: Path, key: str, args: argparse.Namespace, rng: random.Random, run: int
) -> dict[str, Any]:
    port = server.free_port()
    url = f"http://127.0.0.1:{port}"
    process = server.start(data_dir, port, threads=args.threads, env=BATCH_ENV)
    batch_id, custom_ids = asyncio.run(create_batch(url, key, run, args.batch_size))
    head_start = rng.randint(0, args.batch_size - 1)  # so some runs kill it half done
    deadline = time.monotonic() + args.batch_timeout
    while batch_ended_requests(data_dir / "parley.db", batch_id) < head_start:
        if time.monotonic() > deadline:
            raise RuntimeError("the batch made no progress before the load")
        time.sleep(0.05)
    moment = (rng.randint(1, args.max_finished), rng.uniform(0, args.max_delay))
    answers = asyncio.run(kill_under_load(url, key, process, args, moment))
    ended_before_kill = batch_ended_requests(data_dir / "parley.db", batch_id)
    started = time.perf_counter()
    restarted = server.start(data_dir, port, threads=args.threads, env=BATCH_ENV)
    restart_s = time.perf_counter() - started
    try:
        after = asyncio.run(_one_message(url, key))
        lines = asyncio.run(batch_results(url, key, batch_id, args.batch_timeout))
    finally:
        server.stop(restarted)
    result = check(data_dir / "parley.db", answers)
    result.update(check_batch(data_dir / "parley.db", batch_id, custom_ids, lines))
    result.update(
        {
            "batch_ended_before_kill": ended_before_kill,
            "kill_after_finished": moment[0],
            "kill_delay_s": moment[1],
            "restart_s": restart_s,
            "answered_after_restart": after.finished,
        }
    )
    return result


async def _one_message(url: str, key: str) -> Answer:
    async with httpx.AsyncClient(headers=parley_headers(key), timeout=60) as client:
        return await message(client, url, 0)


def passed(run: dict[str, Any]) -> bool:
    return (
        not run["lost"]
        and not run["wrong_tokens"]
        and run["messages_billed_twice"] == 0
        and run["integrity"] == "ok"
        and run["answered_after_restart"]
        and run["batch_lines_ok"]
        and not run["batch_wrong_rows"]
    )


def report(runs: list[dict[str, Any]]) -> None:
    table = Table(title=f"kill -9 under load: {len(runs)} runs")
    for column in (
        "run",
        "killed after",
        "requests",
        "finished msg",
        "finished streams",
        "batch ended at kill",
        "batch ok",
        "lost",
        "wrong tokens",
        "billed twice",
        "billed unfinished",
        "integrity",
        "restart",
        "ok",
    ):
        table.add_column(column, justify="right")
    for i, run in enumerate(runs, 1):
        table.add_row(
            str(i),
            f"{run['kill_after_finished']} + {run['kill_delay_s']:.2f} s",
            str(run["requests"]),
            str(run["finished_messages"]),
            str(run["finished_streams"]),
            f"{run['batch_ended_before_kill']}/{run['batch_requests']}",
            f"{run['batch_succeeded']}/{run['batch_requests']} succeeded"
            if run["batch_lines_ok"] and not run["batch_wrong_rows"]
            else "NO",
            str(len(run["lost"])),
            str(len(run["wrong_tokens"])),
            str(run["messages_billed_twice"]),
            str(run["billed_unfinished"]),
            run["integrity"],
            f"{run['restart_s']:.1f} s",
            "yes" if passed(run) else "NO",
        )
    Console().print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--max-finished", type=int, default=10, help="kill after 1..this many answers"
    )
    parser.add_argument("--max-delay", type=float, default=1.0, help="and 0..this many seconds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=6, help="requests per run's batch")
    parser.add_argument(
        "--batch-timeout", type=float, default=300.0, help="seconds for it to end after restart"
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("bench/results/crash.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="parley-crash-") as tmp:
        data_dir = Path(tmp)
        key = server.create_key(data_dir)
        for i in range(args.runs):
            runs.append(one_run(data_dir, key, args, rng, i))
            print(f"run {i + 1}: {'ok' if passed(runs[-1]) else 'FAILED'}", flush=True)
    report(runs)
    write_json(args.out, {"args": vars(args), "runs": runs, "machine": machine_info(args.threads)})
    return 0 if all(passed(run) for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
