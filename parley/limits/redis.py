"""Token buckets in Redis, shared by every replica: one Lua script per admission applies the
same arithmetic as domain/buckets.py atomically, in one round trip."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from parley.domain.buckets import Admission, Bucket, Charge
from parley.errors import InternalServerError

# KEYS: the buckets. ARGV: now, mode ("admit" | "settle"), then limit and cost per key.
# Each bucket is a hash {level, at}; a missing one is full. A bucket expires once it would
# have refilled completely, which is the same as being missing.
SCRIPT = """
local now = tonumber(ARGV[1])
local mode = ARGV[2]
local states = {}
local longest = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local cost = tonumber(ARGV[2 + 2 * i])
  local level, at = limit, now
  local stored = redis.call('HMGET', key, 'level', 'at')
  if stored[1] then
    level = tonumber(stored[1])
    at = tonumber(stored[2])
    local elapsed = math.max(0, now - at)
    level = math.min(limit, level + elapsed * limit / 60)
    at = math.max(now, at)
  end
  if mode == 'admit' and cost > level and level < limit then
    local wait = (math.min(cost, limit) - level) * 60 / limit
    if wait > longest then longest = wait end
  end
  states[i] = {level, at, limit, cost}
end
if mode == 'admit' and longest > 0 then
  local out = {'0', tostring(math.max(1, math.ceil(longest)))}
  for i = 1, #KEYS do
    table.insert(out, tostring(states[i][1]))
    table.insert(out, tostring(states[i][2]))
  end
  return out
end
local out = {'1', '0'}
for i, key in ipairs(KEYS) do
  local level, at, limit, cost = states[i][1], states[i][2], states[i][3], states[i][4]
  level = math.min(limit, level - cost)
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(at))
  local ttl = math.ceil((limit - level) * 60 / limit) + 1
  redis.call('EXPIRE', key, math.max(1, ttl))
  table.insert(out, tostring(level))
  table.insert(out, tostring(at))
end
return out
"""


@contextmanager
def reachable() -> Iterator[None]:
    """An unreachable Redis is a 500 that says so (never its URL: it may hold a password);
    the client reconnects on the next call, so the server recovers once Redis is back."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise InternalServerError(
            "Rate limits cannot be checked: the limiter's Redis is unreachable. Retry shortly.",
            headers={"x-should-retry": "true"},
        ) from exc


class RedisLimiter:
    """`timeout`: seconds to connect or to wait for an answer, so a hung Redis fails requests
    instead of holding them."""

    def __init__(self, url: str, prefix: str = "parley:bucket:", timeout: float = 5.0) -> None:
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script = self._redis.register_script(SCRIPT)
        self._prefix = prefix

    async def _run(self, mode: str, charges: Sequence[Charge], now: float) -> list[bytes]:
        keys = [self._prefix + charge.key for charge in charges]
        args: list[Any] = [repr(now), mode]
        for charge in charges:
            args += [charge.limit, repr(float(charge.cost))]
        with reachable():
            result: list[bytes] = await self._script(keys=keys, args=args)
        return result

    @staticmethod
    def _buckets(raw: list[bytes]) -> tuple[Bucket, ...]:
        values = [float(v) for v in raw[2:]]
        return tuple(Bucket(values[i], values[i + 1]) for i in range(0, len(values), 2))

    async def admit(self, charges: Sequence[Charge], now: float) -> Admission:
        raw = await self._run("admit", charges, now)
        return Admission(raw[0] == b"1", self._buckets(raw), int(raw[1]))

    async def settle(self, charges: Sequence[Charge], now: float) -> list[Bucket]:
        return list(self._buckets(await self._run("settle", charges, now)))

    async def peek(self, charges: Sequence[Charge], now: float) -> list[Bucket | None]:
        buckets: list[Bucket | None] = []
        for charge in charges:
            with reachable():
                level, at = await self._redis.hmget(self._prefix + charge.key, ["level", "at"])
            buckets.append(None if level is None or at is None else Bucket(float(level), float(at)))
        return buckets

    async def close(self) -> None:
        await self._redis.aclose()
