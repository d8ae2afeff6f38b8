"""The change feed: how a write made through one API process reaches every other.

After a write commits, its process publishes what changed (user ids, movie ids, or
"everything" after an import) to a Redis stream. Every API process follows the stream
and re-reads the named rows from PostgreSQL, which stays the source of truth; the feed
carries only ids. Each entry carries a sequence number that one Lua script counts up
and appends atomically, so a follower knows exactly when it missed something:

- the next entry's number is not its last one plus one (the stream was trimmed past
  it, or a publisher's entry never arrived) -> full resync;
- the counter went backwards or vanished (Redis restarted empty) -> full resync;
- the connection broke -> reconnect, then the same two checks decide.

A full resync notes the feed's position first, reloads from PostgreSQL, then replays
the entries after that position, so a change is never lost between the two. Publishing
is retried in the background while Redis is unreachable; PostgreSQL has the write
either way, and the followers resync when they see the gap.

The embedded mode (SQLite and the in-process worker) runs one process: its feed has
nobody to tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

STREAM = "recsys:changes"
COUNTER = "recsys:changes:seq"
MAX_ENTRIES = 100_000  # about a minute of writes at a thousand a second; a follower further behind resyncs
MAX_IDS_PER_ENTRY = 5_000
BLOCK_MS = 1_000
RETRY_SECONDS = 0.5
MAX_PENDING_IDS = 100_000  # more waiting while Redis is away: every follower reloads instead

KIND_USERS = "users"
KIND_MOVIES = "movies"
KIND_ALL = "all"

_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'seq', seq, 'kind', ARGV[2], 'ids', ARGV[3], 'origin', ARGV[4])
return seq
"""


@dataclass(frozen=True)
class Change:
    seq: int
    kind: str
    ids: list[int]
    origin: str


@dataclass(frozen=True)
class Position:
    """Where the feed stands: the last entry's stream id and sequence number."""

    stream_id: str
    seq: int


OnChanges = Callable[[list[Change]], Awaitable[None]]
OnGap = Callable[[], Awaitable[None]]


def _encode(ids: Sequence[int]) -> str:
    return ",".join(map(str, ids))


def _decode(text: bytes | str) -> list[int]:
    text = text.decode() if isinstance(text, bytes) else text
    return [int(i) for i in text.split(",")] if text else []


def _batches(kind: str, ids: Sequence[int]) -> list[tuple[str, Sequence[int]]]:
    return [(kind, ids[k : k + MAX_IDS_PER_ENTRY]) for k in range(0, len(ids), MAX_IDS_PER_ENTRY)]


class LocalFeed:
    """One process: nothing to tell anyone."""

    origin = "local"

    def publish(self, kind: str, ids: Sequence[int] = ()) -> None:
        return None

    async def follow(self, on_changes: OnChanges, on_gap: OnGap, start: Position | None) -> None:
        await asyncio.Event().wait()

    async def position(self) -> Position | None:
        return None

    async def close(self) -> None:
        return None


class RedisFeed:
    def __init__(self, url: str, timeout: float) -> None:
        self.origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._redis = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        # The follower blocks on XREAD, so it has its own connection and a longer timeout.
        self._reader = aioredis.Redis.from_url(
            url, socket_timeout=timeout + BLOCK_MS / 1000, socket_connect_timeout=timeout
        )
        self._append = self._redis.register_script(_APPEND)
        self._users: set[int] = set()
        self._movies: set[int] = set()
        self._everything = False
        self._wake = asyncio.Event()
        self._publisher: asyncio.Task | None = None
        self.connected = True

    def publish(self, kind: str, ids: Sequence[int] = ()) -> None:
        """Tell the other processes, soon. A background task sends what accumulated in
        as few entries as it can, so a write never waits on Redis, and under load one
        entry carries many writes. While Redis is unreachable it keeps and retries."""
        if kind == KIND_USERS:
            self._users.update(ids)
        elif kind == KIND_MOVIES:
            self._movies.update(ids)
        else:
            self._everything = True
        self._wake.set()
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_forever())

    async def _publish_forever(self) -> None:
        failing = False
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._everything:
                batches, self._users, self._movies = [(KIND_ALL, ())], set(), set()
            else:
                batches = _batches(KIND_USERS, sorted(self._users)) + _batches(KIND_MOVIES, sorted(self._movies))
                self._users, self._movies = set(), set()
            try:
                while batches:
                    kind, ids = batches[0]
                    await self._append(keys=[COUNTER, STREAM], args=[MAX_ENTRIES, kind, _encode(ids), self.origin])
                    batches.pop(0)
                if failing:
                    log.info("change feed reachable again; what waited is published")
                failing = False
            except (redis.RedisError, OSError) as exc:
                if not failing:
                    log.warning("change feed unreachable (%s); retrying in the background", exc)
                failing = True
                for kind, ids in batches:  # back in the queue, merged with what came meanwhile
                    (self._users if kind == KIND_USERS else self._movies).update(ids)
                    self._everything |= kind == KIND_ALL
                if len(self._users) + len(self._movies) > MAX_PENDING_IDS:  # have everyone reload instead
                    self._everything = True
                self._wake.set()
                await asyncio.sleep(RETRY_SECONDS)

    async def position(self) -> Position:
        """The feed's current position, read atomically with the counter (raises while
        Redis is unreachable)."""
        async with self._reader.pipeline(transaction=True) as pipe:
            pipe.get(COUNTER)
            pipe.xrevrange(STREAM, count=1)
            counter, last = await pipe.execute()
        return Position(last[0][0].decode() if last else "0-0", int(counter or 0))

    async def follow(self, on_changes: OnChanges, on_gap: OnGap, start: Position | None) -> None:
        """Apply every entry after ``start``, in order, forever; resync on any gap."""
        at = start or Position("0-0", 0)
        unknown = start is None  # loaded without knowing the feed's position: resync once it answers
        broken = False
        while True:
            try:
                if unknown:
                    at = await self._resync(on_gap)
                    unknown = False
                if broken:
                    counter = int(await self._reader.get(COUNTER) or 0)
                    if counter < at.seq:  # Redis restarted empty: whatever we had not read is gone
                        log.warning("change feed restarted (sequence %d < %d); resyncing", counter, at.seq)
                        at = await self._resync(on_gap)
                    broken = False
                    self.connected = True
                reply = await self._reader.xread({STREAM: at.stream_id}, count=1_000, block=BLOCK_MS)
            except (redis.RedisError, OSError) as exc:
                if not broken:
                    log.warning("change feed connection lost (%s); reconnecting", exc)
                broken, self.connected = True, False
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception:  # the database failed the resync: try again, from scratch
                log.exception("change feed resync failed; retrying")
                unknown = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                at = await self._apply(reply, at, on_changes, on_gap)
            except (redis.RedisError, OSError) as exc:
                log.warning("change feed connection lost (%s); reconnecting", exc)
                broken, self.connected = True, False
            except Exception:  # the database failed a re-read: what it named may be missed
                log.exception("applying the change feed failed; resyncing")
                unknown = True
                await asyncio.sleep(RETRY_SECONDS)

    async def _apply(self, reply, at: Position, on_changes: OnChanges, on_gap: OnGap) -> Position:
        changes: list[Change] = []
        for _, entries in reply or ():
            for stream_id, fields in entries:
                seq = int(fields[b"seq"])
                if seq != at.seq + 1:
                    log.warning("change feed gap (got %d after %d); resyncing", seq, at.seq)
                    return await self._resync(on_gap)
                changes.append(Change(seq, fields[b"kind"].decode(), _decode(fields[b"ids"]),
                                      fields[b"origin"].decode()))
                at = Position(stream_id.decode(), seq)
        if changes:
            await on_changes(changes)
        return at

    async def _resync(self, on_gap: OnGap) -> Position:
        """Note the position, reload everything, go on from the noted position (the
        entries after it are replayed: re-reading a row twice is harmless)."""
        at = await self.position()
        await on_gap()
        return at

    async def close(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
        await self._redis.aclose()
        await self._reader.aclose()
