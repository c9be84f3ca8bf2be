"""User accounts: roles, Argon2 password hashes, API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copilot.errors import ConflictError, InputError, NotFoundError
from copilot.workflow import audit
from copilot.workflow.models import ROLES, User

__all__ = [
    "add_user",
    "authenticate",
    "disable_user",
    "find_by_token",
    "issue_api_token",
    "list_users",
]

_hasher = PasswordHasher()
MIN_PASSWORD = 10
MAX_NAME = 200
UI_LANGUAGES = ("en", "es")


def _normal_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or len(value) > 254:
        raise InputError(f"{email!r} is not an email address.")
    return value


def add_user(
    session: Session, *, email: str, name: str, role: str, password: str,
    actor: str = "system", ui_language: str = "en",
) -> User:
    """Create an account; the password is stored only as an Argon2 hash."""
    if role not in ROLES:
        raise InputError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if ui_language not in UI_LANGUAGES:
        raise InputError(f"Unknown interface language {ui_language!r}; choose one of "
                         f"{', '.join(UI_LANGUAGES)}.")
    if len(name.strip()) > MAX_NAME:
        raise InputError(f"Names can have at most {MAX_NAME} characters.")
    address = _normal_email(email)
    if session.scalar(select(User).where(User.email == address)):
        raise ConflictError(f"A user with the email {address} already exists.")
    user = User(email=address, name=name.strip() or address, role=role,
                password_hash=_hasher.hash(password), active=True,
                ui_language=ui_language)
    session.add(user)
    session.flush()
    audit.append(session, actor=actor, action="user.added", subject=f"user:{user.id}",
                 data={"email": address, "role": role})
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by email."""
    return list(session.scalars(select(User).order_by(User.email)))


def get_user(session: Session, email: str) -> User:
    """The account with this email."""
    user = session.scalar(select(User).where(User.email == _normal_email(email)))
    if user is None:
        raise NotFoundError(f"No user has the email {email}; see `copilot users list`.")
    return user


def disable_user(session: Session, email: str, *, actor: str = "system") -> User:
    """Disable an account: it can no longer sign in or use its API token."""
    user = get_user(session, email)
    user.active = False
    user.api_token_hash = None
    audit.append(session, actor=actor, action="user.disabled", subject=f"user:{user.id}")
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    try:
        address = _normal_email(email)
    except InputError:
        return None
    user = session.scalar(select(User).where(func.lower(User.email) == address))
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, email: str, *, actor: str = "system") -> str:
    """A new API token for the user (shown once; only its hash is kept)."""
    user = get_user(session, email)
    token = "cc_" + secrets.token_urlsafe(32)
    user.api_token_hash = _token_digest(token)
    audit.append(session, actor=actor, action="user.token_issued",
                 subject=f"user:{user.id}")
    return token


def find_by_token(session: Session, token: str) -> User | None:
    """The active user owning this API token."""
    if not token.startswith("cc_"):
        return None
    user = session.scalar(select(User).where(User.api_token_hash == _token_digest(token)))
    return user if user is not None and user.active else None
