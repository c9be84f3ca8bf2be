"""The workflow: drafts move from agent to lead to CRM, every step recorded.

- :mod:`copilot.workflow.db` opens the database (SQLite or PostgreSQL) and migrates it;
- :mod:`copilot.workflow.models` holds the tables;
- :mod:`copilot.workflow.audit` keeps the hash-chained, append-only audit log;
- :mod:`copilot.workflow.users` manages accounts, passwords and API tokens;
- :mod:`copilot.workflow.drafts` moves drafts through their states.
"""
