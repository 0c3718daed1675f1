"""The cache registry and the prompt fingerprints in Redis, shared by every replica, so each
one bills the same cached prefix the same way and diagnoses against any replica's earlier
message. One Lua script per commit applies memory.py's rules atomically.

Liveness always compares an entry's `expires_at` with the `now` the caller passes (the request's
start), never with Redis's own clock; Redis expiry only collects entries long dead.

Layout under the prefix: `e:<workspace>:<hash>` a hash per entry; `o:<organization>` a sorted
set of the organization's entry keys scored by expiry, for listing; `f:<workspace>:<message>`
a message's fingerprint as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, cast

from redis.asyncio import Redis

from parley.domain.caching import TTL_SECONDS, EntryWrite
from parley.domain.diagnostics import Fingerprint
from parley.domain.ports import CacheEntry, CacheScope
from parley.domain.prompt import CacheTtl

# Seconds an entry outlives its expiry in Redis before it is collected.
GRACE_SECONDS = 60
# How long a message's fingerprint can be named by `diagnostics.previous_message_id`.
FINGERPRINT_SECONDS = 86_400

# KEYS: the organization's index, the entry read (or "" for none), then one per write.
# ARGV: now, organization, workspace, model, the seconds of "5m" and "1h", grace, then
# tokens and ttl per write. Numbers are stored with 17 significant digits: exact doubles.
SCRIPT = """
local now = tonumber(ARGV[1])
local seconds = {['5m'] = tonumber(ARGV[5]), ['1h'] = tonumber(ARGV[6])}
local grace = tonumber(ARGV[7])
local function num(v) return string.format('%.17g', v) end
local function keep(key, expires)
  redis.call('ZADD', KEYS[1], num(expires), key)
  redis.call('EXPIRE', key, math.max(1, math.ceil(expires - now)) + grace)
end
if KEYS[2] ~= '' then
  local stored = redis.call('HMGET', KEYS[2], 'expires_at', 'ttl')
  if stored[1] then
    local expires = math.max(tonumber(stored[1]), now + seconds[stored[2]])
    redis.call('HSET', KEYS[2], 'expires_at', num(expires))
    redis.call('HINCRBY', KEYS[2], 'hits', 1)
    keep(KEYS[2], expires)
  end
end
for i = 3, #KEYS do
  local key = KEYS[i]
  local tokens = ARGV[6 + 2 * (i - 2)]
  local ttl = ARGV[7 + 2 * (i - 2)]
  local expires = now + seconds[ttl]
  local stored = redis.call('HMGET', key, 'expires_at', 'ttl')
  if stored[1] and tonumber(stored[1]) > now then
    expires = math.max(tonumber(stored[1]), expires)
    if seconds[stored[2]] >= seconds[ttl] then ttl = stored[2] end
    redis.call('HSET', key, 'expires_at', num(expires), 'ttl', ttl)
  else
    redis.call('DEL', key)
    redis.call('HSET', key, 'organization_id', ARGV[2], 'workspace_id', ARGV[3],
      'model', ARGV[4], 'tokens', tokens, 'ttl', ttl, 'expires_at', num(expires),
      'hits', 0, 'created_at', num(now))
  end
  keep(key, expires)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(last[2]) - now)) + grace)
end
return 1
"""


class RedisCacheRegistry:
    """Implements `ports.CacheRegistry` on Redis; `prefix` keeps deployments (and tests) apart."""

    def __init__(self, url: str, prefix: str = "parley:cache:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._script = self._redis.register_script(SCRIPT)
        self._prefix = prefix

    def _entry_key(self, workspace_id: str, key: str) -> str:
        return f"{self._prefix}e:{workspace_id}:{key}"

    def _index_key(self, organization_id: str) -> str:
        return f"{self._prefix}o:{organization_id}"

    async def live(self, scope: CacheScope, keys: Sequence[str], now: float) -> set[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(self._entry_key(scope.workspace_id, key), "expires_at")
            stored: list[bytes | None] = await pipe.execute()
        return {
            key
            for key, expires in zip(keys, stored, strict=True)
            if expires is not None and float(expires) > now
        }

    async def record(
        self, scope: CacheScope, writes: Sequence[EntryWrite], hit: str | None, now: float
    ) -> None:
        keys = [
            self._index_key(scope.organization_id),
            "" if hit is None else self._entry_key(scope.workspace_id, hit),
        ]
        keys += [self._entry_key(scope.workspace_id, write.key) for write in writes]
        args: list[Any] = [
            repr(now),
            scope.organization_id,
            scope.workspace_id,
            scope.model,
            repr(TTL_SECONDS["5m"]),
            repr(TTL_SECONDS["1h"]),
            GRACE_SECONDS,
        ]
        for write in writes:
            args += [write.tokens, write.ttl]
        await self._script(keys=keys, args=args)

    async def entries(self, organization_id: str, now: float) -> list[CacheEntry]:
        names = cast(
            list[bytes],
            await self._redis.zrangebyscore(self._index_key(organization_id), f"({now!r}", "+inf"),
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            stored: list[dict[bytes, bytes]] = await pipe.execute()
        found = [_entry(fields) for fields in stored if fields]
        return [entry for entry in found if entry.expires_at > now]

    async def close(self) -> None:
        await self._redis.aclose()


class RedisFingerprints:
    """Implements `ports.Fingerprints` on Redis: each message's fingerprint for a day."""

    def __init__(self, url: str, prefix: str = "parley:cache:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix

    def _key(self, workspace_id: str, message_id: str) -> str:
        return f"{self._prefix}f:{workspace_id}:{message_id}"

    async def remember(self, workspace_id: str, message_id: str, print_: Fingerprint) -> None:
        value = json.dumps(asdict(print_))
        await self._redis.set(self._key(workspace_id, message_id), value, ex=FINGERPRINT_SECONDS)

    async def recall(self, workspace_id: str, message_id: str) -> Fingerprint | None:
        stored = await self._redis.get(self._key(workspace_id, message_id))
        if stored is None:
            return None
        fields = json.loads(stored)
        fields["messages"] = tuple(fields["messages"])
        fields["message_ends"] = tuple(fields["message_ends"])
        return Fingerprint(**fields)

    async def close(self) -> None:
        await self._redis.aclose()


def _entry(fields: dict[bytes, bytes]) -> CacheEntry:
    text = {name.decode(): value.decode() for name, value in fields.items()}
    return CacheEntry(
        organization_id=text["organization_id"],
        workspace_id=text["workspace_id"],
        model=text["model"],
        tokens=int(text["tokens"]),
        ttl=cast(CacheTtl, text["ttl"]),
        expires_at=float(text["expires_at"]),
        hits=int(text["hits"]),
        created_at=float(text["created_at"]),
    )
