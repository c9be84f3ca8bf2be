"""The `copilot check` contract: one result per input in order, exit codes 0/1/2."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from copilot.cli import main
from copilot.compliance.cli import check
from tests.test_compliance_support import CO_BASE, US_BASE, proposal

CLEAN = US_BASE
BLOCKED = proposal(CO_BASE, send_at="2027-04-14T19:20:00-05:00")


def _run(stdin: str, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(check, ["-", "--json", *args], input=stdin)
    return result.exit_code, [json.loads(line) for line in result.output.splitlines()]


def _lines(*items: dict[str, Any] | str) -> str:
    return "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n"


def test_one_allowed_object_exits_0() -> None:
    code, out = _run(json.dumps(CLEAN, indent=2))
    assert code == 0
    assert out == [
        {
            "allowed": True,
            "violations": [],
            "next_allowed_at": "2027-04-14T10:00:00-04:00",
        }
    ]


def test_blocked_line_exits_1_with_exact_shape() -> None:
    code, out = _run(_lines(CLEAN, BLOCKED))
    assert code == 1
    assert [o["allowed"] for o in out] == [True, False]
    violation = out[1]["violations"][0]
    assert set(violation) == {"rule", "severity", "message", "citation", "span"}
    assert violation["rule"] == "co.contact_hours"
    assert violation["span"] is None
    assert out[1]["next_allowed_at"] == "2027-04-15T07:00:00-05:00"
    assert set(out[1]) == {"allowed", "violations", "next_allowed_at"}


def test_malformed_line_keeps_its_place_and_exits_2() -> None:
    missing = {k: v for k, v in CLEAN.items() if k != "debtor"}
    code, out = _run(_lines(BLOCKED, "{not json", CLEAN, missing, "[1, 2]"))
    assert code == 2
    assert len(out) == 5
    assert out[0]["allowed"] is False
    assert "line 2" in out[1]["error"] and "not valid JSON" in out[1]["error"]
    assert out[2]["allowed"] is True
    assert "debtor" in out[3]["error"]
    assert "expected a JSON object" in out[4]["error"]


def test_unknown_field_is_bad_input() -> None:
    data = proposal(CLEAN)
    data["debtor"]["cease_requestd"] = True
    code, out = _run(_lines(data))
    assert code == 2
    assert "cease_requestd" in out[0]["error"]


def test_blank_lines_are_skipped_and_spans_are_lists() -> None:
    threat = proposal(CLEAN, text=CLEAN["text"] + " You will be arrested.")
    code, out = _run("\n" + _lines(threat) + "\n\n")
    assert code == 1
    assert len(out) == 1
    spans = [
        v["span"] for v in out[0]["violations"] if v["rule"] == "us.threat_criminal"
    ]
    start, end = spans[0]
    assert threat["text"][start:end] == "arrested"


def test_empty_input_is_bad_input() -> None:
    code, out = _run("")
    assert code == 2
    assert "empty" in out[0]["error"]


def test_messages_follow_the_ui_language() -> None:
    _, out = _run(_lines(BLOCKED), "--lang", "es")
    assert "Próximo momento permitido" in out[0]["violations"][0]["message"]


def test_human_summary_names_rule_pack_and_setting(tmp_path: Any) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(_lines(CLEAN, BLOCKED), encoding="utf-8")
    result = CliRunner().invoke(check, [str(path)])
    assert result.exit_code == 1
    assert "#1  allowed" in result.output
    assert "#2  BLOCKED" in result.output
    assert "co: co.contact_hours.window.hours" in result.output


def test_registered_in_the_main_group() -> None:
    result = CliRunner().invoke(main, ["check", "--json", "-"], input=_lines(CLEAN))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["allowed"] is True


@pytest.mark.parametrize("count", [1, 25], ids=["one line", "twenty-five lines"])
def test_results_keep_input_order(count: int) -> None:
    items = [CLEAN if i % 3 else BLOCKED for i in range(count)]
    _, out = _run(_lines(*items))
    assert [o["allowed"] for o in out] == [bool(i % 3) for i in range(count)]


def test_company_pack_from_the_settings_directory(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.compliance.engine import DEFAULT_PACKS_DIR

    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "company.yaml").write_text(
        (DEFAULT_PACKS_DIR / "company.example.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    monkeypatch.setenv("COPILOT_RULE_PACKS_DIR", str(packs))
    evening = proposal(CLEAN, send_at="2027-04-14T20:30:00-04:00")
    result = CliRunner().invoke(check, ["-"], input=_lines(evening))
    assert result.exit_code == 1
    assert "company.example: us.contact_time.window.hours" in result.output
