"""The contract every CRM connector passes, shared by the demo CRM and the emulated CRMs.

Use it by subclassing in a test module and providing fixtures:

- ``connector``: a ready :class:`connectors.base.Connector`;
- ``known_debtor_id``: the id of a debtor the CRM holds, whose context has at least one
  contact attempt;
- ``known_debtor_name``: that debtor's full name;
- ``emulator`` (fault contract only): an object with ``inject(kind, times=1, **kw)``
  where kind is one of ``expired_token``, ``rate_limit``, ``server_error``, ``slow``,
  ``malformed``; ``request_count`` (HTTP requests served so far); and
  ``activities(debtor_id)`` returning the activities the CRM stores for that debtor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from copilot.domain import Activity, DebtorContext, DebtorSummary
from copilot.errors import (
    ConnectorError,
    CRMNotFoundError,
    CRMRateLimitedError,
    CRMUnavailableError,
    NotFoundError,
)


def make_activity(debtor_id: str, key: str, kind: str = "sms") -> Activity:
    return Activity(
        debtor_id=debtor_id,
        kind=kind,  # type: ignore[arg-type]
        subject="Payment reminder",
        body="This is a test message from a debt collector. Reply STOP to opt out.",
        occurred_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        idempotency_key=key,
        draft_id="draft-1",
        author="agent@example.com",
    )


class ConnectorContract:
    """Reading, searching, the work queue and idempotent write-back."""

    def test_fetch_context_returns_the_debtor_with_ledger_and_history(
        self, connector: Any, known_debtor_id: str
    ) -> None:
        context = connector.fetch_context(known_debtor_id)

        assert isinstance(context, DebtorContext)
        assert context.debtor.id == known_debtor_id
        assert context.account.balance.amount > 0
        assert context.account.balance.currency in ("USD", "COP")
        assert context.contact_attempts, "the known debtor has contact history"
        assert all(a.at.tzinfo is not None for a in context.contact_attempts)
        assert context.source == connector.name

    def test_unknown_debtor_is_a_clear_not_found(self, connector: Any) -> None:
        with pytest.raises((CRMNotFoundError, NotFoundError)) as info:
            connector.fetch_context("does-not-exist-000")

        assert "does-not-exist-000" in str(info.value)

    def test_search_finds_the_debtor_by_name(
        self, connector: Any, known_debtor_id: str, known_debtor_name: str
    ) -> None:
        last_name = known_debtor_name.split()[-1]

        found = connector.search_debtors(last_name)

        assert all(isinstance(s, DebtorSummary) for s in found)
        assert known_debtor_id in [s.id for s in found]

    def test_search_with_no_match_is_empty(self, connector: Any) -> None:
        assert connector.search_debtors("zzqxnomatchzz") == []

    def test_work_queue_lists_debtors_most_urgent_first(self, connector: Any) -> None:
        queue = connector.list_work_queue(limit=10)

        assert 0 < len(queue) <= 10
        priorities = [s.priority for s in queue]
        assert priorities == sorted(priorities, reverse=True)

    def test_write_back_is_idempotent(self, connector: Any, known_debtor_id: str) -> None:
        activity = make_activity(known_debtor_id, "contract-key-0001")

        first = connector.write_activity(activity)
        again = connector.write_activity(activity)

        assert first.created is True
        assert again.created is False
        assert again.activity_id == first.activity_id

    def test_write_back_of_a_call_summary(
        self, connector: Any, known_debtor_id: str
    ) -> None:
        activity = make_activity(known_debtor_id, "contract-key-call-1", kind="call")

        result = connector.write_activity(activity)

        assert result.created is True
        assert result.activity_id


class FaultContract:
    """What a connector does when the CRM misbehaves."""

    def test_expired_token_is_refreshed_transparently(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("expired_token")

        context = connector.fetch_context(known_debtor_id)

        assert context.debtor.id == known_debtor_id

    def test_rate_limit_is_retried_after_the_advertised_delay(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("rate_limit", retry_after=1)
        before = emulator.request_count

        context = connector.fetch_context(known_debtor_id)

        assert context.debtor.id == known_debtor_id
        assert emulator.request_count > before + 1

    def test_persistent_rate_limit_is_reported_as_such(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("rate_limit", times=50, retry_after=0)

        with pytest.raises(CRMRateLimitedError):
            connector.fetch_context(known_debtor_id)

    def test_server_error_is_retried(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("server_error")

        assert connector.fetch_context(known_debtor_id).debtor.id == known_debtor_id

    def test_crm_down_is_reported_as_unavailable(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("server_error", times=50)

        with pytest.raises(CRMUnavailableError):
            connector.fetch_context(known_debtor_id)

    def test_slow_crm_times_out_with_a_clear_error(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("slow", times=50, seconds=5)

        with pytest.raises(CRMUnavailableError):
            connector.fetch_context(known_debtor_id)

    def test_malformed_body_is_a_connector_error_not_a_crash(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("malformed", times=50)

        with pytest.raises(ConnectorError):
            connector.fetch_context(known_debtor_id)

    def test_write_retried_after_a_server_error_creates_one_activity(
        self, connector: Any, emulator: Any, known_debtor_id: str
    ) -> None:
        emulator.inject("server_error")
        activity = make_activity(known_debtor_id, "contract-retry-key-1", kind="email")

        connector.write_activity(activity)
        connector.write_activity(activity)

        stored = emulator.activities(known_debtor_id)
        assert len([a for a in stored if "contract-retry-key-1" in str(a)]) == 1
