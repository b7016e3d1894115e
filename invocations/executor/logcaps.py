"""Caps on what a function's output may cost the server (issue 10, item 6).

A function's stdout/stderr goes: pipe → :class:`LineSplitter` (cuts events at AWS's size
limit) → :class:`OutputGate` (the invocation's total, then the account's rate) → the log
sink → the ingest queue (bounded by :class:`IngestBudget`) → the database and live tail.
Every stage drops what is over its cap instead of buffering it, so the server's memory does
not grow with what a function prints, and the pipe is always drained, so a function never
blocks on a full pipe because of logging. What is dropped is announced by a visible line.

The numbers (also in SECURITY.md):

- one invocation stores at most 8 MiB and 100,000 lines of its own output (init output
  counts toward the first invocation); beyond that one truncation line is written and the
  rest is discarded;
- one account stores at most 1 MiB/s and 5,000 lines/s, with bursts of 4 MiB and 20,000
  lines (a token bucket each, shared by all of the account's environments in a process);
  what is dropped is counted and reported in the environment's stream at most once a
  second, and once more before the invocation's ``END`` line;
- the queue between the executor and the database holds at most 2 MiB of pending text
  (26 bytes counted per event), half of it at most for one account; beyond that function
  output is dropped (and reported in its stream once the queue drains);
- one event is at most 256 KB (AWS's limit, 26 bytes of it overhead): longer lines are split.

Lines the platform writes (``START``, ``END``, ``REPORT``, timeouts, runtime exits, these
notices) are *essential*: no cap applies to them except the ingest queue's last-resort
reserve, which only a stalled database can exhaust.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MIB = 1024 * 1024

INVOCATION_MAX_BYTES = 8 * MIB
INVOCATION_MAX_LINES = 100_000

ACCOUNT_BYTES_PER_S = 1 * MIB
ACCOUNT_BYTES_BURST = 4 * MIB
ACCOUNT_LINES_PER_S = 5_000
ACCOUNT_LINES_BURST = 20_000
NOTICE_INTERVAL_S = 1.0
# Idle accounts' buckets are forgotten once this many are remembered (a full bucket is the
# same as no bucket).
MAX_TRACKED_ACCOUNTS = 1_000

INGEST_MAX_PENDING_BYTES = 2 * MIB
# No account's function output may hold more than this share of it, so one flooding
# account leaves room for the others' lines.
INGEST_ACCOUNT_SHARE = 0.5
# Essential lines are queued beyond the cap, up to this much more; only a database that
# stopped answering fills it, and then they are dropped too rather than grow memory.
INGEST_ESSENTIAL_RESERVE_BYTES = 4 * MIB
MAX_TRACKED_STREAMS = 1_000

EVENT_OVERHEAD_BYTES = 26  # what CloudWatch Logs counts per event on top of its message
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES
# The pipe reader takes at most this much per wake-up, so one flooding environment cannot
# hold the event loop; the loop calls it again at once while there is more.
READ_CHUNK_BYTES = 64 * 1024
READ_PER_WAKEUP_BYTES = 1 * MIB
# The last lines of an invocation kept for ``X-Amz-Log-Result`` (4 KB) and the console.
TAIL_KEEP_BYTES = 64 * 1024

TRUNCATION_NOTICE = (
    f"[functory] log output truncated: this invocation exceeded "
    f"{INVOCATION_MAX_BYTES // MIB} MiB / {INVOCATION_MAX_LINES} lines of log output; "
    f"the rest of its output was discarded"
)

Clock = Callable[[], float]


def size_of(message: str) -> int:
    return len(message.encode("utf-8", "replace"))


def throttle_notice(lines: int, size: int) -> str:
    return (
        f"[functory] log output throttled: {lines} lines ({size} bytes) dropped because "
        f"this account exceeded {ACCOUNT_BYTES_PER_S // MIB} MiB/s / "
        f"{ACCOUNT_LINES_PER_S} lines/s of log output"
    )


def overload_notice(lines: int) -> str:
    return f"[functory] log output dropped: {lines} lines, log ingestion was overloaded"


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.stamp = now

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst


class AccountBuckets:
    """Each account's byte and line buckets (shared by the account's environments)."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        bytes_per_s: float = ACCOUNT_BYTES_PER_S,
        bytes_burst: float = ACCOUNT_BYTES_BURST,
        lines_per_s: float = ACCOUNT_LINES_PER_S,
        lines_burst: float = ACCOUNT_LINES_BURST,
    ) -> None:
        self.clock = clock
        self._limits = (bytes_per_s, bytes_burst, lines_per_s, lines_burst)
        self._buckets: dict[str, tuple[TokenBucket, TokenBucket]] = {}
        # Pools on several event loops (threads) of one process share the buckets.
        self._lock = threading.Lock()

    def admit(self, account_id: str, size: int) -> bool:
        """Take one line of ``size`` bytes from the account's buckets, if both have room."""
        with self._lock:
            return self._admit(account_id, size)

    def _admit(self, account_id: str, size: int) -> bool:
        now = self.clock()
        pair = self._buckets.get(account_id)
        if pair is None:
            self._forget_idle(now)
            bytes_per_s, bytes_burst, lines_per_s, lines_burst = self._limits
            pair = (
                TokenBucket(bytes_per_s, bytes_burst, now),
                TokenBucket(lines_per_s, lines_burst, now),
            )
            self._buckets[account_id] = pair
        size_bucket, line_bucket = pair
        size_bucket.refill(now)
        line_bucket.refill(now)
        # A line longer than the burst could never pass: let it through on a full bucket.
        cost = min(float(size), size_bucket.burst)
        if size_bucket.tokens < cost or line_bucket.tokens < 1:
            return False
        size_bucket.tokens -= cost
        line_bucket.tokens -= 1
        return True

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < MAX_TRACKED_ACCOUNTS:
            return
        for account_id, (size_bucket, line_bucket) in list(self._buckets.items()):
            if size_bucket.full(now) and line_bucket.full(now):
                del self._buckets[account_id]


# The process's buckets: every environment of an account shares them.
account_buckets = AccountBuckets()


class OutputGate:
    """One environment's function output: the invocation's cap, then the account's rate."""

    def __init__(
        self,
        account_id: str,
        buckets: AccountBuckets | None = None,
        max_bytes: int = INVOCATION_MAX_BYTES,
        max_lines: int = INVOCATION_MAX_LINES,
    ) -> None:
        self.account_id = account_id
        self.buckets = buckets if buckets is not None else account_buckets
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self.truncated = False
        self._bytes = 0
        self._lines = 0
        self._dropped_lines = 0
        self._dropped_bytes = 0
        self._last_notice = -float("inf")

    def reset(self) -> None:
        """A new invocation: its own total (the account's rate carries on)."""
        self.truncated = False
        self._bytes = 0
        self._lines = 0

    def admit(self, lines: list[str]) -> tuple[list[str], list[str]]:
        """(output lines to store, notices to store as essential lines)."""
        kept: list[str] = []
        notices: list[str] = []
        for line in lines:
            if self.truncated:
                break
            size = size_of(line)
            if self._bytes + size > self.max_bytes or self._lines + 1 > self.max_lines:
                self.truncated = True
                notices.append(TRUNCATION_NOTICE)
                break
            self._bytes += size
            self._lines += 1
            if self.buckets.admit(self.account_id, size):
                kept.append(line)
            else:
                self._dropped_lines += 1
                self._dropped_bytes += size
        notice = self._throttle_notice(force=False)
        if notice:
            notices.insert(0, notice)
        return kept, notices

    def closing(self) -> list[str]:
        """Notices owed before the invocation's END line."""
        notice = self._throttle_notice(force=True)
        return [notice] if notice else []

    def _throttle_notice(self, *, force: bool) -> str | None:
        if not self._dropped_lines:
            return None
        now = self.buckets.clock()
        if not force and now - self._last_notice < NOTICE_INTERVAL_S:
            return None
        self._last_notice = now
        notice = throttle_notice(self._dropped_lines, self._dropped_bytes)
        self._dropped_lines = self._dropped_bytes = 0
        return notice


class LineSplitter:
    """Bytes from a pipe to log lines; a line longer than one event is split."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max = max_event_bytes
        self._partial = b""

    def feed(self, data: bytes) -> list[str]:
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        lines: list[str] = []
        for raw in complete:
            lines.extend(self._pieces(raw))
        if len(self._partial) > self.max:
            *pieces, self._partial = self._cuts(self._partial)
            lines.extend(self._decode(piece) for piece in pieces)
        return lines

    def flush(self) -> list[str]:
        partial, self._partial = self._partial, b""
        return self._pieces(partial) if partial else []

    def discard(self) -> None:
        self._partial = b""

    def _pieces(self, raw: bytes) -> list[str]:
        if len(raw) <= self.max:
            return [self._decode(raw)]
        return [self._decode(piece) for piece in self._cuts(raw)]

    def _cuts(self, raw: bytes) -> list[bytes]:
        """``raw`` in pieces of at most ``max`` bytes, cut between UTF-8 characters."""
        pieces = []
        start = 0
        while len(raw) - start > self.max:
            end = start + self.max
            # Back off continuation bytes (10xxxxxx) so a character is not cut in two.
            cut = end
            while cut > end - 3 and raw[cut] & 0xC0 == 0x80:
                cut -= 1
            if raw[cut] & 0xC0 == 0x80:  # not UTF-8 anyway
                cut = end
            pieces.append(raw[start:cut])
            start = cut
        pieces.append(raw[start:])
        return pieces

    def _decode(self, raw: bytes) -> str:
        line = raw.decode("utf-8", "replace")
        # Invalid bytes become U+FFFD (3 bytes each): keep the event within the limit anyway.
        if len(line) * 4 > self.max and size_of(line) > self.max:
            line = line.encode()[: self.max].decode("utf-8", "ignore")
        return line


class Tail:
    """The last lines of an invocation, at most ``keep`` bytes of them (and the last line)."""

    def __init__(self, keep: int = TAIL_KEEP_BYTES) -> None:
        self.keep = keep
        self._lines: deque[str] = deque()
        self._bytes = 0

    def extend(self, lines: list[str]) -> None:
        for line in lines:
            self._lines.append(line)
            self._bytes += len(line) + 1
        while self._bytes > self.keep and len(self._lines) > 1:
            self._bytes -= len(self._lines.popleft()) + 1

    def lines(self) -> list[str]:
        return list(self._lines)


class IngestBudget:
    """The bytes pending between the executor and the database (not thread-safe: the
    ingestor calls it under its lock)."""

    def __init__(
        self,
        max_bytes: int = INGEST_MAX_PENDING_BYTES,
        essential_reserve: int = INGEST_ESSENTIAL_RESERVE_BYTES,
    ) -> None:
        self.max_bytes = max_bytes
        self.essential_reserve = essential_reserve
        self.account_max = int(max_bytes * INGEST_ACCOUNT_SHARE)
        self.pending = 0
        self.pending_by_account: dict[str, int] = {}
        self.dropped: dict[tuple[str, str, str], int] = {}
        self.dropped_untracked = 0

    def take(
        self, key: tuple[str, str, str], events: list[tuple[int, str]], essential: bool
    ) -> list[tuple[int, str]]:
        """The events that fit (in order, up to the first that does not); the rest are
        counted as dropped for ``key`` (account, group, stream)."""
        reserve = self.essential_reserve if essential else 0
        limit = self.max_bytes + reserve
        account = key[0]
        account_limit = self.account_max + reserve
        account_pending = self.pending_by_account.get(account, 0)
        kept = 0
        for _, message in events:
            size = size_of(message) + EVENT_OVERHEAD_BYTES
            if self.pending + size > limit or account_pending + size > account_limit:
                break
            self.pending += size
            account_pending += size
            kept += 1
        if kept:
            self.pending_by_account[account] = account_pending
        if kept < len(events):
            self._count_dropped(key, len(events) - kept)
        return events if kept == len(events) else events[:kept]

    def release(self, account_id: str, events: list[tuple[int, str]]) -> None:
        size = sum(size_of(message) + EVENT_OVERHEAD_BYTES for _, message in events)
        self.pending = max(self.pending - size, 0)
        left = self.pending_by_account.pop(account_id, 0) - size
        if left > 0:
            self.pending_by_account[account_id] = left

    def _count_dropped(self, key: tuple[str, str, str], count: int) -> None:
        if key in self.dropped or len(self.dropped) < MAX_TRACKED_STREAMS:
            self.dropped[key] = self.dropped.get(key, 0) + count
        else:
            self.dropped_untracked += count

    def take_dropped(self) -> dict[tuple[str, str, str], int]:
        dropped, self.dropped = self.dropped, {}
        return dropped
