"""Who may talk to the ML backend: HTTP Basic Auth (what Label Studio sends) or a bearer token.

Label Studio 1.23.2 connects to an ML backend with *Basic Authentication* (project settings >
Model > Connect model > authentication method "Basic Authentication"; API: ``auth_method="BASIC_AUTH"``,
``basic_auth_user``, ``basic_auth_pass``) and sends it on ``/health``, ``/setup``,
``/predict``, ``/train`` and the ``START_TRAINING`` webhook. Other clients (scripts, the
annotation webhooks, which Label Studio sends with the webhook's own headers) may send
``Authorization: Bearer <password>`` instead.

Credentials, first found wins:

1. ``SLANT_BACKEND_USER`` + ``SLANT_BACKEND_PASSWORD`` in the environment;
2. the file ``SLANT_BACKEND_CREDENTIALS_FILE`` or ``$SLANT_HOME/backend/credentials``: one line
   ``user:password``, mode 0600 (a file others may read is refused). ``slant serve`` creates
   the default file with a random password when there is none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from annotate.redaction import SecretFormatError, clean_secret, remember_secret

USER_ENV = "SLANT_BACKEND_USER"
PASSWORD_ENV = "SLANT_BACKEND_PASSWORD"
FILE_ENV = "SLANT_BACKEND_CREDENTIALS_FILE"
DEFAULT_USER = "slant"
#: Routes anyone may call: Label Studio and load balancers probe it before authenticating.
OPEN_PATHS = frozenset({"/health"})
REALM = "slant-ml-backend"


class CredentialsError(ValueError):
    """The backend's credentials are missing, unreadable or unsafe; never shows the password."""


@dataclass(frozen=True)
class Credentials:
    """The user name and password the backend requires (``repr`` hides the password)."""

    username: str
    password: str = field(repr=False)
    origin: str = "environment"

    def __post_init__(self) -> None:
        if not self.username or ":" in self.username:
            raise CredentialsError(f"the backend user name from {self.origin} must be non-empty and without ':'")
        try:
            object.__setattr__(self, "password", clean_secret(self.password, origin=self.origin,
                                                               what="backend password"))
        except SecretFormatError as exc:
            raise CredentialsError(str(exc)) from None

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries these credentials (constant-time)."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.password.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Both compared, always: the time taken says nothing about which part was wrong.
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return bool(sep) and user_ok and password_ok

    def header(self) -> str:
        """The ``Authorization`` value (Basic) a client sends."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def default_credentials_file() -> Path:
    from annotate.labelstudio.server import slant_home

    return slant_home() / "backend" / "credentials"


def credentials_file() -> Path:
    """The credentials file in use: ``$SLANT_BACKEND_CREDENTIALS_FILE`` or the default."""
    named = os.environ.get(FILE_ENV)
    return Path(named).expanduser() if named else default_credentials_file()


def read_credentials_file(path: Path) -> Credentials:
    """Read ``user:password`` from ``path``; refuse a file group or others may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"{path}: no such credentials file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path}: cannot read the credentials file ({getattr(exc, 'strerror', None) or exc})") from None
    remember_secret(text)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{path}: the credentials file is readable by others (mode {stat.S_IMODE(mode):04o}); "
                               f"run `chmod 600 {path}`")
    line = text.strip()
    user, sep, password = line.partition(":")
    remember_secret(password)
    if not sep or "\n" in line:
        raise CredentialsError(f"{path}: expected one line 'user:password'")
    return Credentials(user.strip(), password, origin=f"the credentials file {path}")


def load_credentials(*, create: bool = False) -> Credentials:
    """The backend's credentials (environment, then the file); with ``create``, a missing
    default file is made with a random password (mode 0600, created before written).

    Raises :class:`CredentialsError` when none are configured (and ``create`` is off), when
    only one of the two variables is set, or when the file is unsafe or malformed.
    """
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    remember_secret(password)
    if password is not None:
        return Credentials(user or DEFAULT_USER, password, origin=f"${PASSWORD_ENV}")
    if user is not None:
        raise CredentialsError(f"{USER_ENV} is set but {PASSWORD_ENV} is not: set both, or neither to use "
                               f"the credentials file {credentials_file()}")
    path = credentials_file()
    if not path.exists() and create and not os.environ.get(FILE_ENV):
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{DEFAULT_USER}:{secrets.token_urlsafe(24)}\n")
    if not path.exists():
        raise CredentialsError(f"no ML backend credentials: set {USER_ENV} and {PASSWORD_ENV}, or write "
                               f"'user:password' to {path} (mode 0600)")
    return read_credentials_file(path)


class RequireAuth:
    """ASGI middleware: every HTTP request except :data:`OPEN_PATHS` needs ``credentials``.

    A request without them gets 401 with ``WWW-Authenticate: Basic`` and a JSON error, and
    reaches no route (so it can change nothing).
    """

    def __init__(self, app, *, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"authorization")
        authorization = raw.decode("latin-1") if raw is not None else None
        if self.credentials.accepts(authorization):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"status": "error", "error": "authentication required: Basic Auth with the backend's "
                           "user and password, or 'Authorization: Bearer <password>'"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", f'Basic realm="{REALM}"'.encode())]})
        await send({"type": "http.response.body", "body": body})
