"""Drafts: templates, disclosures by code, personalisation with repair and fallback."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage

from connectors.demo import DemoConnector
from copilot.cli import main
from copilot.config import Settings
from copilot.domain import Draft
from copilot.errors import InputError, NotFoundError
from copilot.generation.drafting import Drafter, DraftRequest
from copilot.generation.library import CHANNELS, GOALS, TemplateLibrary
from copilot.generation.redaction import Redactor

# A Wednesday mid-morning in every demo time zone.
SEND_AT = datetime(2026, 12, 9, 17, 30, tzinfo=UTC)
US_CLEAN, CO_CLEAN, INJECTION, US_SPANISH = "D-1001", "D-1002", "D-1015", "D-1014"


@pytest.fixture
def crm(settings: Settings) -> DemoConnector:
    return DemoConnector.from_settings(settings)


def _drafter(settings: Settings, crm: DemoConnector, model: Any = None,
             **kwargs: Any) -> Drafter:
    return Drafter(settings, crm, model=model, engine_label="fake model" if model else None,
                   **kwargs)


class RecordingModel(GenericFakeChatModel):
    """A fake chat model that remembers what it was sent."""

    seen: list[list[BaseMessage]] = []

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)

    def _stream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.seen.append(list(messages))
        yield from super()._stream(messages, *args, **kwargs)


def _model(*answers: str) -> RecordingModel:
    model = RecordingModel(messages=iter([AIMessage(a) for a in answers]))
    model.seen = []
    return model


def test_library_has_two_wordings_for_every_channel_goal_and_language() -> None:
    library = TemplateLibrary()

    for channel, goal, language in itertools.product(CHANNELS, GOALS, ("en", "es")):
        found = library.candidates(channel, goal, language, "neutral")
        assert len(found) >= 2, (channel, goal, language)


def test_template_files_use_only_known_placeholders() -> None:
    known = {"first_name", "name", "company", "creditor", "balance", "due_date",
             "instalment", "next_due", "promise_amount", "promise_date", "phone",
             "pay_url", "hours", "agent"}

    for template in TemplateLibrary().all():
        assert template.fields <= known, template.id


def test_admin_can_add_retire_and_restore_templates(tmp_path: Path) -> None:
    library = TemplateLibrary(tmp_path)
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "language: en\ntemplates:\n  - id: sms.reminder.en.custom\n    channel: sms\n"
        "    goal: reminder\n    tone: firm\n    text: 'Hi {first_name}, call {phone}.'\n"
    )

    library.add(extra)
    library.retire("sms.reminder.en.2")

    ids = {t.id for t in library.candidates("sms", "reminder", "en", "firm")}
    assert "sms.reminder.en.custom" in ids and "sms.reminder.en.2" not in ids
    library.restore("sms.reminder.en.2")
    assert "sms.reminder.en.2" in {t.id for t in library.all()}


def test_a_library_reads_each_template_file_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    extra = tmp_path / "templates" / "extra.yaml"
    extra.parent.mkdir()
    extra.write_text(
        "language: en\ntemplates:\n  - id: sms.reminder.en.custom\n    channel: sms\n"
        "    goal: reminder\n    text: 'Hi {first_name}, call {phone}.'\n"
    )
    TemplateLibrary(tmp_path)
    loads: list[object] = []
    real_load = yaml.safe_load
    monkeypatch.setattr(yaml, "safe_load", lambda text: loads.append(1) or real_load(text))

    TemplateLibrary(tmp_path)
    assert loads == [], "unchanged files are not parsed again"

    extra.write_text(extra.read_text().replace("call {phone}", "ring {phone} today"))
    library = TemplateLibrary(tmp_path)

    assert len(loads) == 1
    assert "ring" in library.get("sms.reminder.en.custom").text


def test_a_template_file_with_a_bad_channel_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("language: en\ntemplates:\n  - {id: x, channel: fax, goal: reminder, "
                   "text: hi}\n")

    with pytest.raises(InputError, match="bad.yaml, template 1"):
        TemplateLibrary(tmp_path).add(bad)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("channel", ["sms", "email", "letter", "call"])
@pytest.mark.parametrize("goal", ["reminder", "plan_offer", "hardship", "settlement"])
@pytest.mark.parametrize("debtor_id", [US_CLEAN, CO_CLEAN], ids=["US debtor", "CO debtor"])
def test_template_drafts_pass_every_text_rule(
    settings: Settings, crm: DemoConnector, debtor_id: str, goal: str, channel: str,
    language: str,
) -> None:
    result = _drafter(settings, crm).draft(DraftRequest(
        debtor_id=debtor_id, channel=channel, language=language, goal=goal,
        send_at=SEND_AT))

    text_violations = [v.rule for v in result.text_violations]
    assert text_violations == [], result.draft.text
    assert result.draft.engine == "template"


def test_promise_follow_up_states_the_recorded_promise(
    settings: Settings, crm: DemoConnector
) -> None:
    context = crm.fetch_context("D-1039")
    promise = next(p for p in context.promises if p.status == "pending")

    result = _drafter(settings, crm).draft(DraftRequest(
        debtor_id="D-1039", channel="sms", language="en", goal="promise_follow_up",
        send_at=SEND_AT))

    assert promise.amount.format("en") in result.draft.text
    assert [v.rule for v in result.draft.violations if v.rule.startswith("fact.")] == []


def test_promise_follow_up_without_a_promise_says_what_to_do(
    settings: Settings, crm: DemoConnector
) -> None:
    with pytest.raises(NotFoundError, match="pending promise"):
        _drafter(settings, crm).draft(DraftRequest(
            debtor_id=US_CLEAN, channel="sms", language="en", goal="promise_follow_up"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("channel", "fax"), ("language", "fr"), ("tone", "angry"), ("goal", "scare")],
)
def test_unknown_options_are_refused_clearly(
    settings: Settings, crm: DemoConnector, field: str, value: str
) -> None:
    request = DraftRequest(debtor_id=US_CLEAN, channel="sms", language="en")
    setattr(request, field, value)

    with pytest.raises(InputError, match=value):
        _drafter(settings, crm).draft(request)


def test_disclosures_are_inserted_by_code_even_when_the_model_drops_them(
    settings: Settings, crm: DemoConnector
) -> None:
    context = crm.fetch_context(US_CLEAN)
    balance = context.account.balance.format("en")
    model = _model(f"Hi {context.debtor.name.split()[0]}, your balance is {balance}. "
                   "Call us at (877) 555-0163.")

    result = _drafter(settings, crm, model).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    assert result.draft.engine == "fake model"
    assert "debt collector" in result.draft.text.lower()
    assert "stop" in result.draft.text.lower()
    assert not result.text_violations


def test_disclosures_come_from_the_drafters_own_engine(
    settings: Settings, crm: DemoConnector
) -> None:
    from copilot.compliance import get_engine

    notice = "Overlay notice 42: this message is from a debt collector."

    class OverlayEngine:
        """The real engine, with one more disclosure required by an overlay pack."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def required_disclosures(self, *args: Any) -> list[str]:
            return [*self.inner.required_disclosures(*args), notice]

    model = _model("Hello, please call us about your balance today.")
    engine = OverlayEngine(get_engine(settings))

    result = _drafter(settings, crm, model, engine=engine).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    assert result.draft.engine == "fake model"
    assert result.draft.text.endswith(notice)
    template_only = _drafter(settings, crm, engine=engine).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))
    assert notice in template_only.draft.text


def test_an_invented_amount_is_repaired_on_the_next_attempt(
    settings: Settings, crm: DemoConnector
) -> None:
    balance = crm.fetch_context(US_CLEAN).account.balance.format("en")
    model = _model("Pay $99.00 today to settle.", f"Your balance is {balance}. Call us.")

    result = _drafter(settings, crm, model).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    assert [a["new_violations"] for a in result.attempts] == [["fact.amount_mismatch"], []]
    assert "$99.00" not in result.draft.text
    repair_prompt = model.seen[1][-1].content
    assert "fact.amount_mismatch" in str(repair_prompt)


def test_a_model_that_keeps_breaking_rules_falls_back_to_the_template(
    settings: Settings, crm: DemoConnector
) -> None:
    threat = "Pay now or we will sue you and garnish your wages."
    model = _model(threat, threat, threat)

    result = _drafter(settings, crm, model).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    assert result.draft.engine == "template"
    assert result.draft.fallback_reason and "us.threat_legal_action" in result.draft.fallback_reason
    assert "sue" not in result.draft.text
    assert len(result.attempts) == 3


def test_wrong_language_from_the_model_falls_back(
    settings: Settings, crm: DemoConnector
) -> None:
    english = "Hello, please call us about your account balance today."
    model = _model(english, english, english)

    result = _drafter(settings, crm, model).draft(DraftRequest(
        debtor_id=CO_CLEAN, channel="sms", language="es", send_at=SEND_AT))

    assert result.draft.engine == "template"
    assert "fact.wrong_language" in (result.draft.fallback_reason or "")


def test_crm_notes_are_data_and_an_injection_changes_nothing(
    settings: Settings, crm: DemoConnector
) -> None:
    context = crm.fetch_context(INJECTION)
    assert any("ignore" in n.text.lower() for n in context.notes)
    obeying = "We will have you arrested and tell your employer unless you pay."
    model = _model(obeying, obeying, obeying)

    result = _drafter(settings, crm, model).draft(DraftRequest(
        debtor_id=INJECTION, channel="sms", language="en", send_at=SEND_AT))

    prompt = str(model.seen[0][-1].content)
    note = next(n for n in context.notes if "ignore" in n.text.lower())
    inside = prompt.split("<debtor_context>")[1].split("</debtor_context>")[0]
    assert json.dumps(note.text[:40], ensure_ascii=False)[1:-1] in inside
    assert "arrested" not in result.draft.text
    assert result.draft.engine == "template"
    without_model = _drafter(settings, crm).draft(DraftRequest(
        debtor_id=INJECTION, channel="sms", language="en", send_at=SEND_AT))
    assert result.draft.text == without_model.draft.text


def test_the_draft_is_persisted_before_the_model_is_called(
    settings: Settings, crm: DemoConnector
) -> None:
    saved: list[Draft] = []

    class Crashing(GenericFakeChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            assert saved, "the draft must be saved before the model runs"
            raise TimeoutError("model timed out")

    model = Crashing(messages=iter([]))
    result = _drafter(settings, crm, model, persist=saved.append).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    assert saved[0].id == result.draft.id
    assert result.draft.engine == "template"
    assert "model failed" in (result.draft.fallback_reason or "")


def test_streaming_passes_tokens_through(settings: Settings, crm: DemoConnector) -> None:
    balance = crm.fetch_context(US_CLEAN).account.balance.format("en")
    model = _model(f"Hello there, your balance is {balance}. Call us when you can.")
    pieces: list[str] = []

    result = _drafter(settings, crm, model).draft(
        DraftRequest(debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT),
        on_token=pieces.append,
    )

    assert len(pieces) > 3
    assert "".join(pieces).strip() in result.draft.text


def test_redaction_keeps_personal_data_from_an_external_model(
    settings: Settings, crm: DemoConnector
) -> None:
    context = crm.fetch_context(US_CLEAN)
    balance = context.account.balance.format("en")
    model = _model(f"Hi [PERSON_1], your balance is {balance}. Call us soon, please.")
    external = settings.model_copy(update={"llm_provider": "openai"})

    result = _drafter(external, crm, model).draft(DraftRequest(
        debtor_id=US_CLEAN, channel="sms", language="en", send_at=SEND_AT))

    sent = " ".join(str(m.content) for m in model.seen[0])
    assert context.debtor.name not in sent
    assert context.debtor.name.split()[0] not in sent
    assert "[PERSON_" in sent
    assert "[PERSON_" not in result.draft.text
    assert any(part in result.draft.text for part in context.debtor.name.split())


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Call Ana Ruiz at +1 (503) 555-0172 today", "555-0172"),
        ("Write to ana.ruiz@example.com", "ana.ruiz@example.com"),
        ("Card 4111 1111 1111 1111 was declined", "4111 1111 1111 1111"),
        ("Account 0012345678 is overdue", "0012345678"),
    ],
    ids=["phone", "email", "card number", "account number"],
)
def test_redactor_round_trips(crm: DemoConnector, text: str, secret: str) -> None:
    redactor = Redactor(names=["Ana Ruiz", "Ana", "Ruiz"])

    hidden = redactor.redact(text)

    assert secret not in hidden
    assert redactor.restore(hidden) == text


def test_redactor_keeps_amounts_and_dates() -> None:
    text = "Your balance of $1,240.50 is due December 15, 2026 (COP 1.250.000)."

    assert Redactor().redact(text) == text


def test_draft_command_prints_json(crm: DemoConnector) -> None:
    result = CliRunner().invoke(main, ["draft", "--debtor", US_CLEAN, "--channel", "email",
                                       "--language", "es", "--json"])

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["engine"] == "template"
    assert body["citations"], "drafts cite the policies they rest on"
    assert {"doc", "heading", "version"} <= set(body["citations"][0])
    assert body["subject"]


def test_draft_command_unknown_debtor_is_one_clear_line() -> None:
    result = CliRunner().invoke(main, ["draft", "--debtor", "D-9999", "--channel", "sms",
                                       "--language", "en"])

    assert result.exit_code == 2
    assert "D-9999" in result.output
    assert "Traceback" not in result.output


def test_draft_command_with_an_unreachable_model_server_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COPILOT_LLM_PROVIDER", "openai")
    monkeypatch.setenv("COPILOT_LLM_BASE_URL", "http://127.0.0.1:9/v1")

    result = CliRunner().invoke(main, ["draft", "--debtor", US_CLEAN, "--channel", "sms",
                                       "--language", "en"])

    assert result.exit_code == 2
    assert "COPILOT_LLM_BASE_URL" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_packaged_local_model_personalises_or_falls_back_honestly(
    settings: Settings, crm: DemoConnector, language: str
) -> None:
    from copilot.providers import describe_engine, get_chat_model

    local = settings.model_copy(update={"llm_provider": "local"})
    model = get_chat_model(local)
    drafter = Drafter(local, crm, model=model, engine_label=describe_engine(local))
    streamed: list[str] = []

    result = drafter.draft(
        DraftRequest(debtor_id=US_CLEAN, channel="sms", language=language,
                     send_at=SEND_AT),
        on_token=streamed.append,
    )

    assert result.draft.tokens_out > 0, "the real model generated tokens"
    assert streamed, "tokens streamed as they were generated"
    text_rules = [v.rule for v in result.text_violations]
    assert text_rules == [], "whatever engine wrote it, the final text passes the rules"
    if result.draft.engine == "template":
        assert result.draft.fallback_reason
    else:
        assert result.draft.engine.startswith("local")
        assert result.draft.fallback_reason is None


def test_checks_passed_lists_every_rule_not_violated(
    settings: Settings, crm: DemoConnector
) -> None:
    result = _drafter(settings, crm).draft(DraftRequest(
        debtor_id="D-1003", channel="call", language="en", send_at=datetime.now(UTC)))

    assert "us.call_frequency" in [v.rule for v in result.contact_violations]
    assert "us.call_frequency" not in result.checks_passed
    assert {"fact.amount_mismatch", "us.threat_legal_action"} <= set(result.checks_passed)
    assert not result.allowed_now and result.next_allowed_at is not None
