"""Opening the workflow database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from copilot.config import Settings
from copilot.errors import StoreError

__all__ = ["Database", "alembic_config"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """One engine and session factory per URL; migrated on open."""

    _lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, object] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Open (and migrate) the configured database."""
        if settings.database_url is None:
            settings.ensure_data_dir()
        database = cls(settings.effective_database_url)
        database.migrate()
        return database

    def migrate(self) -> None:
        """Apply every pending migration."""
        with self._lock:
            try:
                with self.engine.begin() as connection:
                    config = alembic_config(self.url)
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            except OperationalError as exc:
                raise StoreError(
                    f"Cannot open the workflow database ({_safe_url(self.url)}): "
                    f"{exc.orig}. Check COPILOT_DATABASE_URL (or COPILOT_DATA_DIR for "
                    "the default SQLite file)."
                ) from exc

    def tables(self) -> list[str]:
        """Names of the tables present (for checks and tests)."""
        return sorted(inspect(self.engine).get_table_names())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(
                f"The workflow database failed ({type(exc).__name__}); nothing was "
                "saved. Try again; if it persists, check COPILOT_DATABASE_URL."
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
