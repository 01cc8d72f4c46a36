"""Backoff, jitter, Retry-After and the rate limiter, on a fake clock."""

from __future__ import annotations

import itertools

import pytest

from soundtrack_emotion.exceptions import FetchError, ParameterError, RetryableFetchError
from soundtrack_emotion.pipelines.acquisition.retry import RateLimiter, Requester, RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(*errors: Exception, result: bytes = b"ok"):
    """A request that raises ``errors`` in turn, then returns ``result``."""
    pending = list(errors)
    calls = []

    def request() -> bytes:
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return result

    request.calls = calls
    return request


def requester(clock: FakeClock, *, jitter: float = 0.0, uniform: float = 0.5, **policy):
    policy = {"max_tries": 4, "backoff_initial_s": 1.0, "backoff_max_s": 5.0, **policy}
    return Requester(
        policy=RetryPolicy(jitter=jitter, **policy),
        limiter=RateLimiter(1000.0, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        uniform=lambda: uniform,
    )


def test_exponential_backoff_is_capped_then_succeeds():
    clock = FakeClock()
    request = flaky(*(RetryableFetchError("http_500") for _ in range(3)))
    result, tries = requester(clock, max_tries=4, backoff_max_s=3.0).call(request)
    assert (result, tries) == (b"ok", 4)
    waits = [s for s in clock.sleeps if s > 0.01]  # the limiter's 1 ms spacing aside
    assert waits == [1.0, 2.0, 3.0]


def test_jitter_shortens_each_wait_by_the_drawn_fraction():
    clock = FakeClock()
    request = flaky(RetryableFetchError("timeout"), RetryableFetchError("timeout"))
    requester(clock, jitter=0.5, uniform=0.4).call(request)
    waits = [s for s in clock.sleeps if s > 0.01]
    assert waits == pytest.approx([1.0 * 0.8, 2.0 * 0.8])


def test_retry_after_is_honoured_when_longer_than_the_backoff():
    clock = FakeClock()
    request = flaky(RetryableFetchError("http_429", retry_after_s=4.0))
    _, tries = requester(clock).call(request)
    assert tries == 2
    assert max(clock.sleeps) == 4.0


def test_a_retry_after_beyond_the_limit_fails_at_once():
    clock = FakeClock()
    request = flaky(RetryableFetchError("http_429", retry_after_s=3600.0))
    with pytest.raises(FetchError) as caught:
        requester(clock, max_retry_after_s=60.0).call(request)
    assert caught.value.reason == "http_429"
    assert caught.value.tries == 1
    assert "3600" in caught.value.detail
    assert len(request.calls) == 1


def test_tries_are_bounded_and_the_last_reason_is_kept():
    clock = FakeClock()
    request = flaky(*(RetryableFetchError("lastfm_error_29") for _ in range(10)))
    with pytest.raises(RetryableFetchError) as caught:
        requester(clock, max_tries=3).call(request)
    assert caught.value.reason == "lastfm_error_29"
    assert caught.value.tries == 3
    assert len(request.calls) == 3


def test_a_final_error_is_not_retried():
    clock = FakeClock()
    request = flaky(FetchError("malformed_json"))
    with pytest.raises(FetchError) as caught:
        requester(clock).call(request)
    assert caught.value.tries == 1
    assert len(request.calls) == 1


def test_rate_limiter_spaces_calls():
    clock = FakeClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(6):
        limiter.wait()
        starts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.2] * 5)


def test_rate_limiter_does_not_wait_after_a_pause():
    clock = FakeClock()
    limiter = RateLimiter(5.0, clock=clock, sleep=clock.sleep)
    limiter.wait()
    clock.now += 10.0
    limiter.wait()
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "policy",
    [
        {"max_tries": 0},
        {"backoff_initial_s": 2.0, "backoff_max_s": 1.0},
        {"jitter": 1.5},
        {"max_retry_after_s": -1.0},
    ],
)
def test_bad_policies_are_refused(policy):
    with pytest.raises(ParameterError):
        RetryPolicy(**policy)


def test_bad_rate_is_refused():
    with pytest.raises(ParameterError, match="requests_per_second"):
        RateLimiter(0.0)
