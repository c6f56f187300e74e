"""How the toolkit reaches Label Studio: URL + API token, with errors a user can act on.

Resolution order: ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` from the environment
(a user's own server), else the local server started by ``slant labelstudio start`` (its
URL from ``server.json`` and its token from the 0600 token file). The token is never put
in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

from annotate.labelstudio.server import LocalServer, ServerError
from annotate.redaction import SecretFormatError, clean_secret, redact, remember_secret, url_without_credentials

logger = logging.getLogger(__name__)

URL_ENV = "LABEL_STUDIO_URL"
API_KEY_ENV = "LABEL_STUDIO_API_KEY"


class LabelStudioError(RuntimeError):
    """Base class of every Label Studio problem the CLI reports without a traceback."""


class ServerNotRunningError(LabelStudioError):
    """Nothing answers at the server URL."""


class AuthenticationError(LabelStudioError):
    """The server rejected the API token."""


class UnknownProjectError(LabelStudioError):
    """No project has the requested title."""


class LabelStudioAPIError(LabelStudioError):
    """The server answered a request with an error."""


class AmbiguousProjectError(LabelStudioError):
    """Several projects have the requested title."""


def check_url(url: str, *, origin: str = URL_ENV) -> str:
    """``url`` without a trailing slash, if it can be a Label Studio base URL.

    Refused (:class:`LabelStudioError`, credentials never shown): a scheme other than http(s),
    no host, a port that is not a number, a query string or fragment, and ``user:password@``
    (Label Studio authenticates with the API token; a password in the URL would be sent to
    every server it redirects to and shown in error messages).
    """
    from urllib.parse import urlsplit

    text = str(url).strip()
    # Shown without credentials, query or fragment: either may carry a secret.
    shown = redact(url_without_credentials(text).split("?", 1)[0].split("#", 1)[0])
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise LabelStudioError(f"{origin} {shown!r} is not a URL ({redact(exc)})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabelStudioError(f"{origin} {shown!r} must be an http:// or https:// URL with a host, "
                               "e.g. http://127.0.0.1:8080")
    if parts.username is not None or parts.password is not None:
        remember_secret(parts.password)
        raise LabelStudioError(f"{origin} {shown!r} carries a user name or password before the host: "
                               f"remove it (Label Studio is reached with the API token in {API_KEY_ENV})")
    if parts.query or parts.fragment:
        raise LabelStudioError(f"{origin} {shown!r} has a query string or fragment: give the server's base "
                               "URL only")
    del port  # parsed only to check it
    return text.rstrip("/")


@dataclass(frozen=True)
class Connection:
    """A Label Studio server URL and API token. ``repr`` and ``str`` never show the token."""

    url: str
    token: str = field(repr=False)
    origin: str = "environment"  # where the settings came from, for messages
    local: bool = False  # the server started by `slant labelstudio start` (its state dir's token)

    def __post_init__(self) -> None:
        try:
            token = clean_secret(self.token, origin=self.origin)
        except SecretFormatError as exc:
            raise AuthenticationError(str(exc).replace("from environment", f"in {API_KEY_ENV}")) from None
        object.__setattr__(self, "token", token)
        where = URL_ENV if self.origin == "environment" else f"the Label Studio URL from {self.origin}"
        object.__setattr__(self, "url", check_url(self.url, origin=where))

    @cached_property
    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Token {self.token}"},
                            timeout=httpx.Timeout(300.0, connect=5.0))

    @cached_property
    def sdk(self):
        """The label-studio-sdk client (imported on first use: it pulls in pandas)."""
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.token, timeout=300.0)

    def request(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """Send one API request; raise a :class:`LabelStudioError` saying ``what`` failed."""
        with self.errors(what):
            response = self.http.request(method, path, **kwargs)
        self.raise_for_status(response.status_code, response.text, what)
        return response

    @contextlib.contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn transport and SDK errors inside the block into :class:`LabelStudioError`."""
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except httpx.ConnectError:
            raise ServerNotRunningError(self._not_running(what)) from None
        except httpx.TimeoutException as exc:
            raise LabelStudioAPIError(f"{what}: Label Studio at {self.url} timed out ({type(exc).__name__})") from None
        except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            # e.g. the server closed the connection mid-request; the text of an h11 error can
            # quote a header, so it is redacted like every other message.
            raise LabelStudioAPIError(redact(
                f"{what}: the connection to Label Studio at {self.url} failed ({type(exc).__name__}: {exc}); "
                "what was done before it is kept, so running the command again continues")) from None
        except ApiError as exc:
            self.raise_for_status(exc.status_code or 0, exc.body, what)
            raise

    def raise_for_status(self, status: int, body: Any, what: str) -> None:
        if status < 400:
            return
        body = _error_detail(body)
        if status == 401:
            raise AuthenticationError(
                f"{what}: Label Studio at {self.url} rejected the API token from {self.origin} (HTTP 401). "
                f"Check {API_KEY_ENV}, or for the local server its token file."
            )
        if status == 403:
            raise AuthenticationError(f"{what}: the token's user may not do this on {self.url} (HTTP 403)")
        raise LabelStudioAPIError(f"{what}: Label Studio answered HTTP {status}: {redact(body)[:500]}")

    def check(self) -> str:
        """Verify the server answers and accepts the token; return its release version."""
        # /api/version answers without a token: ask for the token's user to check the token.
        self.request("GET", "/api/current-user/whoami", what="checking the API token")
        response = self.request("GET", "/api/version", what="checking the server")
        try:
            return str(response.json().get("release", "unknown"))
        except ValueError:
            return "unknown"

    def _not_running(self, what: str) -> str:
        hint = ("start it with `slant labelstudio start`" if self.origin != "environment"
                else f"check {URL_ENV}")
        return f"{what}: no Label Studio server answers at {self.url}; {hint}"

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()


def _error_detail(body: Any) -> str:
    """The useful part of a Label Studio error body (validation errors, else the detail)."""
    if isinstance(body, str):
        try:
            import json

            body = json.loads(body)
        except ValueError:
            return body
    if isinstance(body, dict):
        if body.get("validation_errors"):
            return f"{body.get('detail', 'invalid')}: {body['validation_errors']}"
        if body.get("detail"):
            return str(body["detail"])
    return str(body)


def connect(url: str | None = None, api_key: str | None = None, *, server: LocalServer | None = None,
            check: bool = True) -> Connection:
    """Connect to Label Studio.

    Explicit ``url``/``api_key`` win, then ``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY``, then
    the local server (``server`` or the default :class:`LocalServer`). With ``check`` the
    server is asked for its version, so a stopped server or a wrong token fails here with a
    clear :class:`LabelStudioError`.
    """
    url = url or os.environ.get(URL_ENV)
    api_key = api_key or os.environ.get(API_KEY_ENV)
    remember_secret(api_key)
    if url and api_key:
        connection = Connection(url, api_key, origin="environment")
    elif api_key and not url:
        raise LabelStudioError(f"{API_KEY_ENV} is set but {URL_ENV} is not: set both for your own server")
    else:
        local = server or LocalServer()
        if url and check_url(url) != local.url:
            raise LabelStudioError(f"{URL_ENV} is set but {API_KEY_ENV} is not: set both for your own server")
        try:
            token = local.token()
        except SecretFormatError as exc:
            raise AuthenticationError(str(exc)) from None
        except ServerError:
            raise ServerNotRunningError(
                f"no Label Studio server configured: start one with `slant labelstudio start`, "
                f"or set {URL_ENV} and {API_KEY_ENV}"
            ) from None
        if not local.is_running():
            # server.json names a port, but our server is gone: whatever listens there now
            # must not be sent the token.
            raise ServerNotRunningError(
                f"the local Label Studio recorded in {local.state_file} ({local.url}) is not running; "
                "start it with `slant labelstudio start`")
        connection = Connection(local.url, token, origin=f"the token file {local.token_file}", local=True)
    if check:
        connection.check()
    return connection
