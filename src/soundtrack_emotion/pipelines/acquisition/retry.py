"""Rate limiting and retries with exponential backoff and jitter, for any one-shot request.

A request is a callable that either returns or raises
:class:`~soundtrack_emotion.exceptions.RetryableFetchError` (retried, honouring the server's
``Retry-After``) or :class:`~soundtrack_emotion.exceptions.FetchError` (final). After
``max_tries`` the last retryable error becomes final: the caller records the item as failed
and moves on.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from soundtrack_emotion.exceptions import FetchError, ParameterError, RetryableFetchError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Delay before try ``n + 1`` is
    ``min(backoff_max_s, backoff_initial_s * 2 ** (n - 1))``, shortened by a random fraction up
    to ``jitter`` (0 = none, 1 = "full jitter"), and never shorter than ``Retry-After``."""

    max_tries: int = 5
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    jitter: float = 0.5
    max_retry_after_s: float = 600.0

    def __post_init__(self) -> None:
        if self.max_tries < 1:
            raise ParameterError(f"max_tries must be >= 1, got {self.max_tries!r}")
        if not 0 <= self.backoff_initial_s <= self.backoff_max_s:
            raise ParameterError(
                "need 0 <= backoff_initial_s <= backoff_max_s, got "
                f"{self.backoff_initial_s!r} and {self.backoff_max_s!r}"
            )
        if not 0.0 <= self.jitter <= 1.0:
            raise ParameterError(f"jitter must be in [0, 1], got {self.jitter!r}")
        if self.max_retry_after_s < 0:
            raise ParameterError(f"max_retry_after_s must be >= 0, got {self.max_retry_after_s!r}")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> RetryPolicy:
        return cls(**parameters)

    def delay_s(self, tries: int, retry_after_s: float | None, uniform: float) -> float:
        """Wait after the ``tries``-th failed try; ``uniform`` is a draw from [0, 1)."""
        backoff = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (tries - 1))
        backoff *= 1.0 - self.jitter * uniform
        return max(backoff, retry_after_s or 0.0)


class RateLimiter:
    """Spaces calls at least ``1 / requests_per_second`` apart (thread-safe)."""

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second <= 0:
            raise ParameterError(f"requests_per_second must be > 0, got {requests_per_second!r}")
        self.interval_s = 1.0 / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._next_at = -float("inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at)
            self._next_at = start + self.interval_s
        if start > now:
            self._sleep(start - now)


class Requester:
    """Runs one-shot requests under a rate limit and a retry policy."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        limiter: RateLimiter,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.limiter = limiter
        self._sleep = sleep
        self._uniform = uniform

    def call(self, request: Callable[[], T]) -> tuple[T, int]:
        """``(result, tries)``; raises :class:`FetchError` (with ``tries`` set) on failure."""
        for tries in range(1, self.policy.max_tries + 1):
            self.limiter.wait()
            try:
                return request(), tries
            except RetryableFetchError as error:
                error.tries = tries
                if tries == self.policy.max_tries:
                    raise
                retry_after = error.retry_after_s
                if retry_after is not None and retry_after > self.policy.max_retry_after_s:
                    too_long = FetchError(
                        error.reason,
                        f"server asked to wait {retry_after:.0f} s, more than "
                        f"max_retry_after_s={self.policy.max_retry_after_s:.0f}",
                    )
                    too_long.tries = tries
                    raise too_long from error
                self._sleep(self.policy.delay_s(tries, retry_after, self._uniform()))
            except FetchError as error:
                error.tries = tries
                raise
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
