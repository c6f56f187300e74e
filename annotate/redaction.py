"""Secrets (API tokens, passwords): checked when read, and kept out of every message.

Two jobs, used by every place a secret could surface:

- :func:`clean_secret` strips the whitespace a ``.env`` file or an ``echo`` leaves around a
  token (CR, LF, spaces) and refuses what cannot be an HTTP header value (control
  characters, inner whitespace, non-ASCII), naming where it came from but never the value.
- :func:`redact` removes from a text every secret seen so far (:func:`remember_secret`),
  the user:password part of URLs, and the value of ``Token``/``Bearer``/``Basic``
  credentials. Error messages, HTTP error bodies, job messages and log records (through
  :func:`install_log_redaction`, which the CLI calls) all go through it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit, urlunsplit

#: Shorter strings are not treated as secrets: replacing them would garble messages.
MIN_SECRET_LENGTH = 6
MASK = "***"

_known: set[str] = set()
_known_lock = threading.Lock()
#: What :func:`redact` replaces, longest first (a secret may contain a shorter one): each
#: secret, and its escaped form as a ``repr`` of bytes shows it (``b'...\r'``).
_forms: tuple[str, ...] = ()
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")
# An Authorization value: the scheme as HTTP writes it, then something credential-shaped
# (12+ token characters), so prose such as "Token from" is left alone.
_CREDENTIAL = re.compile(r"\b(?P<kind>Token|Bearer|Basic)(?P<sep>\s+|\\x20|%20)(?P<value>[A-Za-z0-9._~+/=-]{12,})")


class SecretFormatError(ValueError):
    """A token or password cannot be used (empty, or not a valid header value); never shows it."""


def remember_secret(value: str | None) -> None:
    """Have :func:`redact` remove ``value`` (and its stripped form) from now on."""
    if not value:
        return
    global _forms
    with _known_lock:
        for form in (value, value.strip()):
            if len(form) >= MIN_SECRET_LENGTH:
                _known.add(form)
        escaped = {form.encode("unicode_escape").decode("ascii") for form in _known}
        _forms = tuple(sorted(_known | escaped, key=len, reverse=True))


def clean_secret(value: str | None, *, origin: str, what: str = "API token") -> str:
    """The secret without surrounding whitespace; :class:`SecretFormatError` if unusable.

    Edge cases: ``None`` or only whitespace is "empty"; a character outside printable ASCII
    (a control character, an inner space, a non-ASCII letter) is refused with its position
    only. The raw value is remembered for :func:`redact` either way.
    """
    remember_secret(value)
    cleaned = (value or "").strip()
    if not cleaned:
        raise SecretFormatError(f"the {what} from {origin} is empty")
    for position, char in enumerate(cleaned, start=1):
        if not ("!" <= char <= "~"):
            kind = "a space" if char.isspace() else ("a non-ASCII character" if ord(char) > 127
                                                     else "a control character")
            raise SecretFormatError(f"the {what} from {origin} contains {kind} at position {position} "
                                    f"of {len(cleaned)}; copy it again without it")
    return cleaned


def redact(text: object) -> str:
    """``text`` (made a string) with known secrets, URL passwords and credential values masked."""
    out = str(text)
    for secret in _forms:
        if secret in out:
            out = out.replace(secret, MASK)
    if "@" in out:
        out = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", out)
    if "Token" in out or "Bearer" in out or "Basic" in out:
        out = _CREDENTIAL.sub(lambda m: f"{m['kind']}{m['sep']}{MASK}", out)
    return out


def url_without_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` removed (for messages)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class _RedactingRecordFactory:
    """Wraps the log record factory so each record's message and traceback are redacted once."""

    def __init__(self, base):
        self.base = base

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: leave it to the handler to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record


def install_log_redaction() -> None:
    """Redact every log record created from now on, whatever logger or handler (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(factory))
