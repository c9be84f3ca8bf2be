"""Rule packs: validation with file and line, company tightening, reload keeps old packs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from copilot.compliance import Engine, Proposal, validate_pack
from copilot.compliance.engine import DEFAULT_PACKS_DIR
from tests.test_compliance_support import US_BASE, calls, proposal

EXAMPLE = DEFAULT_PACKS_DIR / "company.example.yaml"
SIX_CALLS = proposal(
    US_BASE,
    channel="call",
    text="Hi, Rohan from Cascade Recovery Group, a debt collector, about your account.",
    history=calls(
        "2027-04-09T10:00:00-04:00",
        "2027-04-10T10:00:00-04:00",
        "2027-04-11T10:00:00-04:00",
        "2027-04-12T10:00:00-04:00",
        "2027-04-13T10:00:00-04:00",
    ),
)

OVERLAY_HEAD = "pack: acme\noverlay: true\njurisdiction: US\nrules:\n"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _rules(engine: Engine, data: dict[str, Any]) -> dict[str, Any]:
    return {v.rule: v for v in engine.check(Proposal.model_validate(data)).violations}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param(
            OVERLAY_HEAD + "  us.call_frequency:\n    checks: [\n",
            7,
            "not valid YAML",
            id="broken YAML names its line",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.call_frequency:\n    checks:\n      weekly_cap:\n"
            "        max_attempts: 9\n",
            8,
            "would loosen the rule",
            id="raising the call cap is refused",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.call_frequency:\n    checks:\n      weekly_cap:\n"
            "        window_days: 5\n",
            8,
            "would loosen the rule",
            id="shortening the window is refused",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.contact_time:\n    checks:\n      window:\n"
            '        hours: {mon: "07:00-21:00"}\n',
            8,
            "would loosen",
            id="widening hours is refused",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.shaming:\n    severity: warn\n",
            6,
            "cannot go from block to warn",
            id="block to warn is refused",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.call_frequency:\n    checks:\n      weekly_cap:\n"
            "        max_attempts: many\n",
            8,
            "valid integer",
            id="a wrong type names its line",
        ),
        pytest.param(
            "pack: acme\noverlay: true\njurisdiction: US\nphrases:\n  abusive:\n"
            "    en:\n      - 'ok'\n      - '(unclosed'\n",
            8,
            "not a valid regular expression",
            id="a bad pattern names its line",
        ),
        pytest.param(
            OVERLAY_HEAD + "  company.no_weekend:\n    severity: block\n"
            "    citation: house rule\n    message: {en: a, es: b}\n    checks:\n"
            "      w:\n        kind: contact_windw\n",
            11,
            "unknown rule kind",
            id="an unknown kind names its line",
        ),
        pytest.param(
            OVERLAY_HEAD + "  company.words:\n    severity: block\n"
            "    citation: house rule\n    message: {en: a, es: b}\n    checks:\n"
            "      w:\n        kind: phrase_family\n        families: [nope]\n",
            10,
            "unknown phrase family",
            id="an unknown family is refused",
        ),
        pytest.param(
            OVERLAY_HEAD + "  company.words:\n    severity: block\n"
            "    citation: house rule\n    message: {en: 'Too many {count', es: b}\n"
            "    checks:\n      w:\n        kind: phrase_family\n"
            "        families: [legal_threat]\n",
            8,
            "literal brace",
            id="a rule message with a broken placeholder names its line",
        ),
        pytest.param(
            OVERLAY_HEAD + "  us.call_frequency:\n    checks:\n      weekly_cap:\n"
            "        message: {en: 'at {count.real} calls', es: b}\n",
            8,
            "not a plain placeholder",
            id="a check message with an attribute lookup names its line",
        ),
        pytest.param(
            "pack: acme\njurisdiction: Mars\n",
            2,
            "jurisdiction",
            id="an unknown jurisdiction names its line",
        ),
    ],
)
def test_invalid_packs_are_refused_with_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, "acme.yaml", text)
    errors = validate_pack(path)
    assert errors, "the pack should be refused"
    assert any(e.startswith(f"{path}:{line}:") and reason in e for e in errors), errors


def test_the_packaged_packs_validate() -> None:
    for path in sorted(DEFAULT_PACKS_DIR.glob("*.yaml")):
        assert validate_pack(path) == [], path


def test_company_pack_tightens_the_call_cap_and_names_itself(tmp_path: Path) -> None:
    assert "us.call_frequency" not in _rules(Engine(), SIX_CALLS)

    shutil.copy(EXAMPLE, tmp_path / "company.yaml")
    engine = Engine(tmp_path)
    violation = _rules(engine, SIX_CALLS)["us.call_frequency"]
    assert violation.pack == "company.example"
    assert violation.setting == "us.call_frequency.weekly_cap.max_attempts"
    assert "limit 5" in violation.message


def test_company_pack_narrows_hours_and_adds_phrases(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "company.yaml")
    engine = Engine(tmp_path)
    late = proposal(US_BASE, send_at="2027-04-14T20:30:00-04:00")
    assert "us.contact_time" not in _rules(Engine(), late)
    assert _rules(engine, late)["us.contact_time"].pack == "company.example"

    rude = proposal(US_BASE, text=US_BASE["text"] + " You are a cheapskate.")
    assert "us.abusive_language" not in _rules(Engine(), rude)
    assert "us.abusive_language" in _rules(engine, rude)


def test_unchanged_settings_keep_the_base_pack_as_their_source(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "company.yaml")
    checks = Engine(tmp_path).rules("US")["us.call_frequency"]["checks"]
    assert checks["weekly_cap"]["packs"]["max_attempts"] == "company.example"
    assert checks["weekly_cap"]["packs"]["window_days"] == "us"
    assert checks["weekly_cap"]["settings"]["max_attempts"] == 5


def test_reload_keeps_the_previous_pack_when_the_new_one_is_invalid(
    tmp_path: Path,
) -> None:
    path = tmp_path / "company.yaml"
    shutil.copy(EXAMPLE, path)
    engine = Engine(tmp_path)
    assert "us.call_frequency" in _rules(engine, SIX_CALLS)

    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "max_attempts: 5", "max_attempts: 12"
    )
    path.write_text(text, encoding="utf-8")
    errors = engine.reload()
    line = text.splitlines().index("        max_attempts: 12") + 1
    assert any(e.startswith(f"{path}:{line}:") for e in errors), errors
    assert _rules(engine, SIX_CALLS)["us.call_frequency"].pack == "company.example"

    path.write_text("pack: [\n", encoding="utf-8")
    assert engine.reload()
    assert "us.call_frequency" in _rules(engine, SIX_CALLS)


def test_a_new_invalid_pack_is_refused_and_the_rest_stay_active(tmp_path: Path) -> None:
    _write(tmp_path, "acme.yaml", OVERLAY_HEAD + "  us.shaming:\n    severity: warn\n")
    engine = Engine(tmp_path)
    assert any("acme.yaml:6:" in e for e in engine.errors)
    assert {p["name"] for p in engine.packs if p["active"]} == {"common", "us", "co"}
    assert "us.contact_time" in _rules(
        engine, proposal(US_BASE, send_at="2027-04-14T22:00:00-04:00")
    )


def test_a_pack_may_not_take_a_base_pack_name(tmp_path: Path) -> None:
    _write(tmp_path, "dup.yaml", "pack: us\noverlay: true\njurisdiction: US\n")
    engine = Engine(tmp_path)
    assert any("already used" in e for e in engine.errors)


def test_packs_report_files_and_jurisdictions() -> None:
    packs = {p["name"]: p for p in Engine().packs}
    assert set(packs) == {"common", "us", "co"}
    assert packs["us"]["file"].endswith("policies/rules/us.yaml")
    assert packs["common"]["jurisdiction"] == "any"


def test_a_previous_pack_that_no_longer_fits_is_reported_not_dropped_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.compliance import engine as engine_module
    from copilot.compliance.packs import PackError

    path = tmp_path / "company.yaml"
    shutil.copy(EXAMPLE, path)
    engine = Engine(tmp_path)
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("max_attempts: 5", "max_attempts: 12"),
        encoding="utf-8",
    )
    real_assemble = engine_module.assemble
    seen: list[str] = []

    def assemble(jurisdiction: str, packs: list[Any]) -> Any:
        seen.append(jurisdiction)
        if seen.count(jurisdiction) == 2:  # the retry with the previous version
            raise PackError([f"{path}:1: the previous version no longer fits"])
        return real_assemble(jurisdiction, packs)

    monkeypatch.setattr(engine_module, "assemble", assemble)

    errors = engine.reload()

    assert seen.count("US") == 2, "the previous version was tried again"
    assert f"{path}:1: the previous version no longer fits" in errors
    assert f"{path}:1: the previous version no longer fits" in engine.errors
    # the company's tighter cap is out, so an admin must see why
    assert "us.call_frequency" not in _rules(engine, SIX_CALLS)
