"""Thread replies in Redis, so any replica can continue any thread: each record sealed with
the server's key (bound to its key, so it cannot be moved), and a claim is one atomic script.
Redis drops a record when its thread would have expired anyway."""

from __future__ import annotations

import math
from typing import Any, cast

from redis.asyncio import Redis

from parley.domain.sealing import Sealer, SealError
from parley.domain.threads import MAX_SECONDS, ClaimRefusal, ThreadRecord

IN_FLIGHT_SECONDS = 600

# KEYS: the record, its claim state. ARGV: how long a claim may last (a replica that dies
# mid-generation frees it then). Returns {refusal} or {"ok", sealed record}.
CLAIM = """
local sealed = redis.call('GET', KEYS[1])
if not sealed then return {'not_found'} end
local state = redis.call('GET', KEYS[2])
if state then return {state} end
redis.call('SET', KEYS[2], 'in_flight', 'EX', ARGV[1])
return {'ok', sealed}
"""


class RedisThreadStore:
    def __init__(self, url: str, sealer: Sealer, prefix: str = "parley:thread:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._sealer = sealer
        self._prefix = prefix
        self._claim = self._redis.register_script(CLAIM)

    def _keys(self, key: str) -> tuple[str, str]:
        return f"{self._prefix}{key}", f"{self._prefix}{key}:state"

    async def put(self, key: str, record: ThreadRecord, now: float) -> None:
        record_key, _ = self._keys(key)
        sealed = self._sealer.seal(record.to_bytes(), record_key.encode())
        ttl = max(1, math.ceil(record.expires_at() - now))
        await self._redis.set(record_key, sealed, ex=ttl)

    async def claim(self, key: str) -> ThreadRecord | ClaimRefusal:
        record_key, state_key = self._keys(key)
        answer = cast(
            list[Any], await self._claim(keys=[record_key, state_key], args=[IN_FLIGHT_SECONDS])
        )
        verdict = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        if verdict != "ok":
            return cast(ClaimRefusal, verdict)
        try:
            return ThreadRecord.from_bytes(self._sealer.open(answer[1], record_key.encode()))
        except SealError:
            return "not_found"  # sealed under another key: as good as gone

    async def release(self, key: str, *, continued: bool) -> None:
        _, state_key = self._keys(key)
        if continued:
            await self._redis.set(state_key, "continued", ex=math.ceil(MAX_SECONDS))
        else:
            await self._redis.delete(state_key)

    async def close(self) -> None:
        await self._redis.aclose()
