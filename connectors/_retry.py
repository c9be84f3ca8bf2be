"""Retries with backoff shared by the HTTP connectors.

A connector classifies each failure into one of the :mod:`copilot.errors` CRM errors;
this module decides whether and when to try again. ``Retry-After`` from the CRM wins over
our own exponential backoff, capped so that a sidebar never hangs for minutes.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from copilot.errors import CRMRateLimitedError, CRMUnavailableError

__all__ = ["RetryPolicy", "call_with_retries", "parse_retry_after"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class RetryPolicy:
    """How many times to retry, and how long to wait between attempts."""

    def __init__(
        self,
        max_retries: int = 3,
        base_delay_s: float = 0.25,
        max_delay_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.sleep = sleep

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number *attempt* (1-based)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_delay_s)
        backoff: float = self.base_delay_s * 2.0 ** (attempt - 1)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay_s)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def call_with_retries(
    operation: str, call: Callable[[], T], policy: RetryPolicy, *, connector: str
) -> T:
    """Run *call*, retrying rate limits and outages the policy allows.

    *call* must raise :class:`CRMRateLimitedError` or :class:`CRMUnavailableError` for
    retryable failures; every other exception propagates at once.
    """
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            result = call()
        except (CRMRateLimitedError, CRMUnavailableError) as exc:
            attempt += 1
            if attempt > policy.max_retries:
                raise
            retry_after = getattr(exc, "retry_after_s", None)
            wait = policy.delay(attempt, retry_after)
            log.warning(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                connector, operation, exc.code, attempt, policy.max_retries, wait,
            )
            policy.sleep(wait)
            continue
        log.info(
            "%s %s ok in %.0f ms", connector, operation,
            (time.perf_counter() - started) * 1000,
        )
        return result
