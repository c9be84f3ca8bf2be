"""The workflow store on SQLite and PostgreSQL: states, permissions, write-back, audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.base import Connector
from copilot.domain import (
    Account,
    Activity,
    ContactAttempt,
    Debtor,
    DebtorContext,
    DebtorSummary,
    Draft,
    Money,
    Violation,
    WriteResult,
)
from copilot.errors import (
    ConflictError,
    CRMUnavailableError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from copilot.workflow import audit, drafts, users
from copilot.workflow.db import Database
from copilot.workflow.models import AuditEntry, DraftRecord

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'wf.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    if not _postgres_available():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (scripts/system-deps.sh starts one)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    database.migrate()
    yield database
    database.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _context(debtor_id: str = "D-1", cease: bool = False) -> DebtorContext:
    debtor = Debtor(id=debtor_id, name="Owen Castellano", jurisdiction="US",
                    timezone="America/Los_Angeles", cease_requested=cease)
    account = Account(id="A-1", creditor="Bluewater Mobile",
                      balance=Money.of("2318.47", "USD"), due_date=date(2027, 2, 26))
    attempt = ContactAttempt(at=datetime(2027, 3, 1, 18, tzinfo=UTC), channel="call",
                             direction="outbound", outcome="no_answer")
    return DebtorContext(debtor=debtor, account=account, contact_attempts=(attempt,))


def _clean(record: DraftRecord, context: DebtorContext, now: datetime) -> drafts.CheckOutcome:
    return drafts.CheckOutcome([], None)


def _cease_blocks(record: DraftRecord, context: DebtorContext,
                  now: datetime) -> drafts.CheckOutcome:
    if context.debtor.cease_requested:
        violation = Violation(rule="us.cease_communication", severity="block",
                              message="The debtor asked us to stop.")
        return drafts.CheckOutcome([violation], None)
    return drafts.CheckOutcome([], None)


class RecordingConnector(Connector):
    name = "recording"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.written: dict[str, WriteResult] = {}
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: object) -> RecordingConnector:
        return cls()

    def fetch_context(self, debtor_id: str) -> DebtorContext:
        return _context(debtor_id)

    def search_debtors(self, query: str, limit: int = 20) -> list[DebtorSummary]:
        return []

    def list_work_queue(self, limit: int = 50) -> list[DebtorSummary]:
        return []

    def write_activity(self, activity: Activity) -> WriteResult:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise CRMUnavailableError("The CRM is down (503).")
        if activity.idempotency_key in self.written:
            first = self.written[activity.idempotency_key]
            return first.model_copy(update={"created": False})
        result = WriteResult(activity_id=f"ACT-{len(self.written) + 1}", created=True)
        self.written[activity.idempotency_key] = result
        return result


@pytest.fixture
def people(db: Database) -> dict[str, str]:
    with db.session() as s:
        for email, role in (("ana@example.com", "agent"), ("bo@example.com", "agent"),
                            ("lee@example.com", "lead"), ("ada@example.com", "admin")):
            users.add_user(s, email=email, name=email.split("@")[0], role=role,
                           password="correct horse battery")
    return {"agent": "ana@example.com", "other": "bo@example.com",
            "lead": "lee@example.com", "admin": "ada@example.com"}


def _user(db: Database, email: str):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return users.get_user(s, email)


def _new_draft(db: Database, agent_email: str, text_: str = "Hello from a debt collector.") -> str:
    with db.session() as s:
        agent = users.get_user(s, agent_email)
        record = drafts.create_draft(
            s, agent=agent, context=_context(),
            draft=Draft(debtor_id="D-1", channel="sms", language="en", text=text_),
            connector="recording",
        )
        return record.id


def test_migrations_create_every_table(db: Database) -> None:
    assert {"users", "drafts", "draft_events", "write_backs", "audit_log"} <= set(db.tables())


def test_passwords_are_hashed_and_checked(db: Database, people: dict[str, str]) -> None:
    with db.session() as s:
        user = users.get_user(s, people["agent"])
        assert "correct horse" not in user.password_hash
        assert users.authenticate(s, people["agent"], "correct horse battery") is not None
        assert users.authenticate(s, people["agent"], "wrong password!!") is None


def test_disabled_user_cannot_sign_in_or_use_a_token(db: Database, people: dict[str, str]) -> None:
    with db.session() as s:
        token = users.issue_api_token(s, people["agent"])
        assert users.find_by_token(s, token) is not None
        users.disable_user(s, people["agent"])
        assert users.authenticate(s, people["agent"], "correct horse battery") is None
        assert users.find_by_token(s, token) is None


def test_duplicate_email_and_short_password_are_refused(db: Database, people: dict[str, str]) -> None:
    with db.session() as s, pytest.raises(ConflictError):
        users.add_user(s, email="ANA@example.com", name="x", role="agent",
                       password="long enough pw")
    with db.session() as s, pytest.raises(InputError, match="10 characters"):
        users.add_user(s, email="new@example.com", name="x", role="agent", password="short")


def test_full_loop_from_draft_to_crm(db: Database, people: dict[str, str]) -> None:
    crm = RecordingConnector()
    draft_id = _new_draft(db, people["agent"])

    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
    with db.session() as s:
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]), context=_context(),
                       edited_text="Hello again from a debt collector.", checker=_clean)
    with db.session() as s:
        job = drafts.write_back(s, draft_id, crm)
        assert job.status == "done"

    with db.session() as s:
        record = s.get(DraftRecord, draft_id)
        assert record is not None
        assert record.status == "written_back"
        actions = [e.action for e in record.events]
        assert actions == ["draft", "submit", "edit_and_approve", "write_back"]
        approval = record.events[2]
        assert approval.diff and "+Hello again" in approval.diff
        assert approval.text == "Hello again from a debt collector."
        assert audit.verify(s).ok


def test_approval_rechecks_against_the_fresh_context(db: Database, people: dict[str, str]) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_cease_blocks)

    with db.session() as s, pytest.raises(ConflictError, match="us.cease_communication") as info:
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]),
                       context=_context(cease=True), checker=_cease_blocks)

    assert info.value.details["violations"][0]["rule"] == "us.cease_communication"
    with db.session() as s:
        record = s.get(DraftRecord, draft_id)
        assert record is not None and record.status == "submitted"
        assert record.events[-1].action == "approval_blocked"


def test_agents_see_only_their_own_drafts_and_cannot_approve(
    db: Database, people: dict[str, str]
) -> None:
    draft_id = _new_draft(db, people["agent"])

    with db.session() as s, pytest.raises(NotFoundError):
        drafts.get_draft(s, draft_id, users.get_user(s, people["other"]))
    with db.session() as s:
        assert drafts.list_drafts(s, users.get_user(s, people["other"])) == []
        assert len(drafts.list_drafts(s, users.get_user(s, people["lead"]))) == 1
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
    with db.session() as s, pytest.raises(PermissionDeniedError):
        drafts.approve(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                       checker=_clean)


def test_request_changes_then_resubmit(db: Database, people: dict[str, str]) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
        drafts.request_changes(s, draft_id, users.get_user(s, people["lead"]),
                               reason="Mention the plan option.")
    with db.session() as s:
        drafts.edit_draft(s, draft_id, users.get_user(s, people["agent"]),
                          text="Hello; we can offer a plan. This is a debt collector.")
        record = drafts.submit(s, draft_id, users.get_user(s, people["agent"]),
                               context=_context(), checker=_clean)
        assert record.status == "submitted"


def test_reject_needs_a_reason(db: Database, people: dict[str, str]) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
    with db.session() as s, pytest.raises(InputError):
        drafts.reject(s, draft_id, users.get_user(s, people["lead"]), reason="  ")


def test_failed_write_back_is_retried_once_and_never_duplicated(
    db: Database, people: dict[str, str]
) -> None:
    crm = RecordingConnector(failures=1)
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]), context=_context(),
                       checker=_clean)
    now = datetime.now(UTC)

    with db.session() as s:
        job = drafts.write_back(s, draft_id, crm, now=now)
        assert job.status == "failed"
        assert s.get(DraftRecord, draft_id).status == "write_back_failed"  # type: ignore[union-attr]
    with db.session() as s:
        assert drafts.retry_due_write_backs(s, crm, now=now) == []  # not yet due
    with db.session() as s:
        retried = drafts.retry_due_write_backs(s, crm, now=now + timedelta(hours=1))
        assert [j.status for j in retried] == ["done"]
    with db.session() as s:
        drafts.write_back(s, draft_id, crm)  # a stray second call

    assert len(crm.written) == 1
    assert crm.calls == 2


def test_tampering_with_the_audit_log_is_detected(db: Database, people: dict[str, str]) -> None:
    _new_draft(db, people["agent"])
    with db.session() as s:
        assert audit.verify(s).ok
        entries = s.query(AuditEntry).order_by(AuditEntry.id).all()
        entries[1].data = {**entries[1].data, "role": "admin"}

    with db.session() as s:
        report = audit.verify(s)

    assert not report.ok
    assert report.first_bad_id == entries[1].id


def test_audit_export_is_csv_with_hashes(db: Database, people: dict[str, str]) -> None:
    with db.session() as s:
        exported = audit.export_csv(s)

    lines = exported.strip().splitlines()
    assert lines[0].startswith("id,at,actor,action")
    assert len(lines) == 1 + 4  # header + four user.added entries


@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", "approved"), ("admin", "approved"), ("lead", "submitted"),
     ("agent", "approved")],
    ids=["a lead cannot rewrite an approved draft", "nor can an admin",
         "a lead edits a submitted draft only by approving it",
         "the agent cannot rewrite it after approval"],
)
def test_text_cannot_change_outside_the_editable_states(
    db: Database, people: dict[str, str], who: str, status: str
) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
        if status == "approved":
            drafts.approve(s, draft_id, users.get_user(s, people["lead"]),
                           context=_context(), checker=_clean)

    with db.session() as s, pytest.raises(ConflictError, match=status):
        drafts.edit_draft(s, draft_id, users.get_user(s, people[who]),
                          text="Unchecked words that no rule has seen.")

    with db.session() as s:
        record = s.get(DraftRecord, draft_id)
        assert record is not None and record.text == "Hello from a debt collector."


def test_only_the_author_edits_a_draft_before_it_is_submitted(
    db: Database, people: dict[str, str]
) -> None:
    draft_id = _new_draft(db, people["agent"])

    with db.session() as s, pytest.raises(PermissionDeniedError):
        drafts.edit_draft(s, draft_id, users.get_user(s, people["lead"]),
                          text="A lead's words under the agent's name.")


@pytest.mark.parametrize(
    "meanwhile",
    ["approve", "reject", "request_changes"],
    ids=["two leads approve at once", "one approves while another rejects",
         "one approves while another sends it back"],
)
def test_a_decision_made_meanwhile_wins_and_the_late_one_is_refused(
    db: Database, people: dict[str, str], meanwhile: str
) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)

    def decide_meanwhile(record: DraftRecord, context: DebtorContext,
                         now: datetime) -> drafts.CheckOutcome:
        # The other lead's request lands while this one's rules are running.
        with db.session() as other:
            admin = users.get_user(other, people["admin"])
            if meanwhile == "approve":
                drafts.approve(other, draft_id, admin, context=context, checker=_clean)
            else:
                getattr(drafts, meanwhile)(other, draft_id, admin, reason="Not this one.")
        return drafts.CheckOutcome([], None)

    with db.session() as s, pytest.raises(ConflictError, match="meanwhile"):
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]), context=_context(),
                       checker=decide_meanwhile)

    expected = {"approve": "approved", "reject": "rejected",
                "request_changes": "changes_requested"}[meanwhile]
    with db.session() as s:
        record = s.get(DraftRecord, draft_id)
        assert record is not None and record.status == expected
        assert (record.write_back is not None) == (meanwhile == "approve")
        assert [e.action for e in record.events][-1] == meanwhile
        assert audit.verify(s).ok


class SlowIndexCRM(RecordingConnector):
    """A CRM whose search lags writes (like HubSpot's), so it cannot dedupe by itself.

    While the first write is in flight, the other caller's write-back runs: a second
    click on "Retry now", or the background retrier in another worker.
    """

    def __init__(self, meanwhile: object) -> None:
        super().__init__()
        self.meanwhile = meanwhile
        self.created = 0

    def write_activity(self, activity: Activity) -> WriteResult:
        self.calls += 1
        if self.calls == 1:
            self.meanwhile()  # type: ignore[operator]
        self.created += 1
        return WriteResult(activity_id=f"ACT-{self.created}", created=True)


@pytest.mark.parametrize("other", ["write_back", "retry_due"],
                         ids=["a second click", "the background retrier"])
def test_a_write_back_in_flight_is_not_sent_twice(
    db: Database, people: dict[str, str], other: str
) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]), context=_context(),
                       checker=_clean)
    later = datetime.now(UTC) + timedelta(seconds=60)  # the approval's grace is over

    def meanwhile() -> None:
        with db.session() as s:
            if other == "write_back":
                drafts.write_back(s, draft_id, crm)
            else:
                drafts.retry_due_write_backs(s, crm, now=later)

    crm = SlowIndexCRM(meanwhile)
    with db.session() as s:
        job = drafts.write_back(s, draft_id, crm)
        assert job.status == "done"

    assert crm.calls == 1
    with db.session() as s:
        record = s.get(DraftRecord, draft_id)
        assert record is not None and record.status == "written_back"
        assert record.write_back is not None and record.write_back.attempts == 1
        assert audit.verify(s).ok


def test_an_abandoned_write_back_is_taken_up_after_its_lease(
    db: Database, people: dict[str, str]
) -> None:
    draft_id = _new_draft(db, people["agent"])
    with db.session() as s:
        drafts.submit(s, draft_id, users.get_user(s, people["agent"]), context=_context(),
                      checker=_clean)
        drafts.approve(s, draft_id, users.get_user(s, people["lead"]), context=_context(),
                       checker=_clean)
    now = datetime.now(UTC)

    class CrashingCRM(RecordingConnector):
        def write_activity(self, activity: Activity) -> WriteResult:
            raise KeyboardInterrupt  # the worker died mid-call

    with db.session() as s, pytest.raises(KeyboardInterrupt):
        drafts.write_back(s, draft_id, CrashingCRM(), now=now)

    crm = RecordingConnector()
    with db.session() as s:
        assert drafts.retry_due_write_backs(s, crm, now=now + timedelta(seconds=5)) == []
    with db.session() as s:
        done = drafts.retry_due_write_backs(s, crm, now=now + timedelta(hours=1))
        assert [j.status for j in done] == ["done"]
    assert crm.calls == 1


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [({"ui_language": "english"}, "language"), ({"ui_language": ""}, "language"),
     ({"name": "N" * 201}, "200 characters")],
    ids=["an unknown interface language", "an empty interface language",
         "a name longer than its column"],
)
def test_account_fields_that_do_not_fit_are_refused_with_the_reason(
    db: Database, changes: dict[str, str], fragment: str
) -> None:
    fields = {"email": "new@example.com", "name": "Nia", "role": "agent",
              "password": "long enough pw", **changes}

    with db.session() as s, pytest.raises(InputError, match=fragment):
        users.add_user(s, **fields)
