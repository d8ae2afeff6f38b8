"""Rendered responses, kept while what they were computed from stays the same.

A recommendation list depends on the user (their ratings and state), the model version,
the catalogue and, for a user with no ratings, the popularity table. The key is the
request; the stamp records those inputs, and a hit is served only when every one is
unchanged, so a rating, a version switch, a catalogue change or a reload invalidates
exactly the lists it affects. Least recently used entries go first past the limit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RenderedCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.served_early = 0  # of the hits, those answered before the framework (api.cached_reads)

    def get(self, key: Hashable, stamp: Hashable, *, early: bool = False) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamp:
            if not early:  # an early miss goes on to the route, which counts it
                self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        self.served_early += early
        return entry[1]

    def put(self, key: Hashable, stamp: Hashable, body: bytes) -> None:
        if self.max_entries == 0:
            return
        self._entries[key] = (stamp, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
