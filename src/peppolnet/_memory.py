"""Memory budgets: caches bounded by the estimated bytes of their entries, not their number.

Why bytes: an entry count says nothing about memory. A bulk run's result cache held 100,000
answers, which is several KB each for a signed "can receive" and much less for "not
registered", so the same limit meant 100 MB or 600 MB depending on the register and on how much
an answer carries (its checks' sentences in two languages, say). A budget in bytes holds
whatever the mix.

Why an estimate, and a sampled one: measuring an answer's object graph (:func:`deep_size`)
costs 30-160 us, a tenth of a lookup, so :class:`SampledSize` measures one entry in
:data:`SAMPLE_EVERY` of each kind (a verdict, say) and charges the others the running mean of
their kind. Entries of one kind have one shape, so the mean is close. Objects that many
references point at (a message template, an operator, a certificate's facts) are not counted:
one more entry does not add them.

:class:`ByteLru` is the LRU both the bulk result cache and the SML resolver's cache keep;
:func:`lru_by_bytes` is ``functools.lru_cache`` with a budget, for the parse caches a register
run fills with one entry per distinct identifier.
"""

from __future__ import annotations

import collections
import enum
import functools
import gc
import sys
import threading
import types
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Final, Generic, TypeVar, cast

__all__ = [
    "DEFAULT_BUDGET",
    "SAMPLE_EVERY",
    "ByteLru",
    "SampledSize",
    "deep_size",
    "lru_by_bytes",
]

DEFAULT_BUDGET: Final = 64 * 1024 * 1024
"""The memory budget of a cache that is not given one: 64 MB."""

SAMPLE_EVERY: Final = 32
"""One entry in this many (per kind) is measured; the first of each kind always is."""

#: How many references make an object shared (not counted in an entry's size; see
#: :func:`deep_size`). An entry's own objects have a few (their holder, the walk's own).
SHARED_REFS: Final = 16

#: What an entry costs besides its key and value: the ordered dict's slot and link and the
#: tuple holding the value's size (measured on CPython 3.11: ~100-140 bytes).
ENTRY_OVERHEAD: Final = 160

# Objects every entry may reach but none owns: classes, modules, functions, enum members,
# None/True/False. Walking into them would count the interpreter, not the entry.
_SHARED_TYPES: Final = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    enum.Enum,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])


def deep_size(obj: object, *, shared_refs: int | None = SHARED_REFS) -> int:
    """The bytes of ``obj`` and of everything it reaches (``sys.getsizeof`` over the objects
    the garbage collector sees as its referents), each object counted once.

    Classes, modules, functions, enum members and the singletons are not counted: they are
    the interpreter's, shared by every value. Nor is, below ``obj`` itself, an object that more
    than ``shared_refs`` references point at (None: count everything): a message template in the
    code, an operator, a certificate's facts - shared by every answer that names them, so one
    more answer does not add them. Memory held outside Python objects (a ``cryptography``
    certificate's parsed form) is not seen either.
    """
    seen: set[int] = {id(obj)}
    total = sys.getsizeof(obj)
    stack = list(gc.get_referents(obj))
    limit = sys.maxsize if shared_refs is None else shared_refs
    while stack:
        item = stack.pop()
        if (
            item is None
            or item is True
            or item is False
            or id(item) in seen
            or isinstance(item, _SHARED_TYPES)
            or sys.getrefcount(item) > limit
        ):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return total


class SampledSize:
    """The estimated bytes of an entry: measured for one in ``every`` of its kind, else the
    running mean of the entries of that kind measured so far (see the module's docstring).

    ``kind`` names an entry's shape (default: the type of the value). Not thread-safe: its
    owner calls it under the owner's lock.
    """

    def __init__(self, kind: Callable[[Any], Hashable] = type, every: int = SAMPLE_EVERY) -> None:
        self._kind = kind
        self._every = max(1, every)
        # kind -> [entries seen, entries measured, bytes measured]
        self._seen: dict[Hashable, list[int]] = {}

    def __call__(self, key: object, value: object) -> int:
        kind = self._kind(value)
        stats = self._seen.get(kind)
        if stats is None:
            stats = self._seen[kind] = [0, 0, 0]
        stats[0] += 1
        if stats[1] == 0 or stats[0] % self._every == 0:
            stats[1] += 1
            stats[2] += deep_size((key, value)) + ENTRY_OVERHEAD
        return stats[2] // stats[1]


class ByteLru(Generic[K, V]):
    """A least-recently-used mapping bounded by ``max_bytes`` of estimated entry sizes (and by
    ``max_entries`` when given). Adding past the budget drops the least recently used entries.

    ``size`` estimates one entry's bytes from its key and value (default: a
    :class:`SampledSize` by the value's type). An entry larger than the whole budget is not
    kept. Not thread-safe: the caches that keep one hold their own lock around it.
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_BUDGET,
        *,
        max_entries: int | None = None,
        size: Callable[[K, V], int] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._size: Callable[[K, V], int] = size if size is not None else SampledSize()
        self._data: collections.OrderedDict[K, tuple[V, int]] = collections.OrderedDict()
        self.nbytes = 0
        """The estimated bytes of the entries held now."""

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def get(self, key: K) -> V | None:
        """The value at ``key`` (now the most recently used), or None."""
        entry = self._data.get(key)
        if entry is None:
            return None
        self._data.move_to_end(key)
        return entry[0]

    def peek(self, key: K) -> V | None:
        """The value at ``key``, or None, without making it the most recently used."""
        entry = self._data.get(key)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` at ``key``, then drop least recently used entries until the budget
        (and the entry limit) holds."""
        if self.max_bytes <= 0 or (self.max_entries is not None and self.max_entries <= 0):
            return
        size = self._size(key, value)
        self.pop(key)
        if size > self.max_bytes:
            return
        self._data[key] = (value, size)
        self.nbytes += size
        limit = self.max_entries
        while self.nbytes > self.max_bytes or (limit is not None and len(self._data) > limit):
            _, (_, dropped) = self._data.popitem(last=False)
            self.nbytes -= dropped

    def replace(self, key: K, value: V) -> None:
        """Put ``value`` in the place of the entry at ``key`` (same size and recency)."""
        entry = self._data.get(key)
        if entry is not None:
            self._data[key] = (value, entry[1])

    def pop(self, key: K) -> V | None:
        """Remove the entry at ``key``; its value, or None."""
        entry = self._data.pop(key, None)
        if entry is None:
            return None
        self.nbytes -= entry[1]
        return entry[0]

    def clear(self) -> None:
        self._data.clear()
        self.nbytes = 0


def lru_by_bytes(
    max_bytes: int, *, size: Callable[[tuple[Hashable, ...], Any], int] | None = None
) -> Callable[[F], F]:
    """``functools.lru_cache`` bounded by the estimated bytes of its results (and their
    arguments) rather than their number; thread-safe. The positional arguments are the key
    (the function must take hashable positional arguments only); a None result is not kept.
    ``size`` (the arguments and the result -> bytes) replaces the sampled estimate where it
    cannot see the memory, e.g. of ``cryptography`` certificates. ``cache_clear`` empties it.
    """

    def decorate(function: F) -> F:
        cache: ByteLru[tuple[Hashable, ...], object] = ByteLru(max_bytes, size=size)
        lock = threading.Lock()

        @functools.wraps(function)
        def cached(*args: Hashable) -> object:
            with lock:
                value = cache.get(args)
            if value is None:
                value = function(*args)
                with lock:
                    cache.put(args, value)
            return value

        def cache_clear() -> None:
            with lock:
                cache.clear()

        cached.cache_clear = cache_clear  # type: ignore[attr-defined]
        cached.cache = cache  # type: ignore[attr-defined]
        return cast(F, cached)

    return decorate
