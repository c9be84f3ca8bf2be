"""`copilot users` and `copilot audit` through the CLI runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from copilot.cli import main


def test_users_add_list_disable_and_audit_verify() -> None:
    runner = CliRunner()
    env = {"COPILOT_NEW_USER_PASSWORD": "a long password"}

    added = runner.invoke(main, ["users", "add", "lee@example.com", "--role", "lead",
                                 "--name", "Lee"], env=env)
    listed = runner.invoke(main, ["users", "list", "--json"])
    disabled = runner.invoke(main, ["users", "disable", "lee@example.com"])
    again = runner.invoke(main, ["users", "list", "--json"])
    verified = runner.invoke(main, ["audit", "verify"])
    exported = runner.invoke(main, ["audit", "export"])

    assert added.exit_code == 0, added.output
    assert json.loads(listed.output)[0] == {"email": "lee@example.com", "name": "Lee",
                                            "role": "lead", "active": True}
    assert disabled.exit_code == 0
    assert json.loads(again.output)[0]["active"] is False
    assert verified.exit_code == 0 and "2 entries verified" in verified.output
    assert exported.output.count("user.") == 2


def test_unknown_role_and_unknown_user_are_clear_errors() -> None:
    runner = CliRunner()

    bad_role = runner.invoke(main, ["users", "add", "x@example.com", "--role", "boss"],
                             env={"COPILOT_NEW_USER_PASSWORD": "a long password"})
    missing = runner.invoke(main, ["users", "disable", "ghost@example.com"])

    assert bad_role.exit_code == 2 and "boss" in bad_role.output
    assert missing.exit_code == 2
    assert "No user has the email ghost@example.com" in missing.output
    assert "Traceback" not in missing.output
