"""Retries failed write-backs in the background while the web app runs.

A write-back that failed (the CRM was down, rate limited) is retried when its time
comes, with the backoff that :func:`copilot.workflow.drafts.write_back` scheduled; the
queue shows its state meanwhile. One thread per process: with several gunicorn
workers, the idempotency key keeps two workers from writing the same activity twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from copilot.errors import CopilotError
from copilot.workflow import drafts as workflow

__all__ = ["WriteBackRetrier", "retry_once"]

log = logging.getLogger(__name__)


def retry_once(app: Any) -> int:
    """Retry every due write-back of *app* once; returns how many were attempted."""
    from copilot.web.auth import database
    from copilot.web.services import services

    with app.app_context():
        with database().session() as session:
            jobs = workflow.retry_due_write_backs(session, services().connector)
            done = sum(1 for job in jobs if job.status == "done")
    if jobs:
        log.info("write-back retry: %d attempted, %d done", len(jobs), done)
    return len(jobs)


class WriteBackRetrier:
    """A daemon thread that calls :func:`retry_once` every *interval_s* seconds."""

    def __init__(self, app: Any, interval_s: float = 30.0) -> None:
        self.app = app
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="write-back-retrier",
                                        daemon=True)

    def start(self) -> WriteBackRetrier:
        """Start retrying in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                retry_once(self.app)
            except CopilotError as exc:
                # The CRM or database is down: the next round tries again.
                log.warning("write-back retry round failed: %s", exc.code)
            except Exception:
                log.exception("write-back retry round crashed; retrying next round")
