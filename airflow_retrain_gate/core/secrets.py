"""Credentials in connection URLs: refuse URLs that would be misparsed, redact user-info from anything shown.

The user-info of a URL is read by a conservative textual rule: everything between '://' and the last '@'.
A password holding an unescaped '@' makes SQLAlchemy read part of it as the host, where drivers, DNS and error
messages would show it; such a URL is refused before anything connects.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

REDACTED = "***"
MIN_SECRET_LENGTH = 3
"""Shorter user names and passwords are not scrubbed from messages: that would blank out ordinary words."""
_PIECE_SEPARATORS = re.compile(r"[@/:?#]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def user_info(url: str) -> str:
    """The user-info of `url` by the conservative rule ('' when it has none, as in duckdb:////path)."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest or rest.startswith("/") or "@" not in rest:
        return ""
    return rest.rpartition("@")[0]


def redact_url(url: str) -> str:
    """`url` with its user-info replaced by '***'; a text that is not a URL is not echoed at all."""
    if not _SCHEME.match(url):
        return "(not a URL of the form dialect+driver://user:password@host/database)"
    secret = user_info(url)
    if not secret:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{REDACTED}@{rest.rpartition('@')[2]}"


def misparsed(url: str, host: str | None) -> bool:
    """Whether SQLAlchemy's `host` for `url` is not what follows its user-info: an '@' (or a '/' in the user
    name) was not percent-encoded, so part of the credentials would be read as the host or database."""
    secret = user_info(url)
    if not secret:
        return False
    after = url.split("://", 1)[1][len(secret) + 1 :]
    if host is None:
        return True
    shown = f"[{host}]" if ":" in host else host
    return re.match(re.escape(shown) + r"(?:[:/?]|$)", after) is None


class SecretRegistry:
    """The user names and passwords of every URL this process has opened, to scrub from any text it shows."""

    def __init__(self) -> None:
        self._anywhere: set[str] = set()
        self._usernames: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register_url(self, url: str) -> None:
        """Remember the credentials of `url` (raw and percent-decoded, and each piece of the password)."""
        secret = user_info(url)
        if not secret:
            return
        username, _, password = secret.partition(":")
        passwords = {password, unquote(password)}
        pieces = {piece for text in passwords for piece in _PIECE_SEPARATORS.split(text)}
        whole = (
            {secret, unquote(secret)} if password else set()
        )  # without a password it is just the user name
        secrets = whole | passwords | pieces
        with self._lock:
            self._anywhere |= {text for text in secrets if len(text) >= MIN_SECRET_LENGTH}
            self._usernames |= {
                name for name in (username, unquote(username)) if len(name) >= MIN_SECRET_LENGTH
            }
            self._pattern = None

    def scrub(self, text: str) -> str:
        """`text` with every remembered credential replaced by '***'."""
        pattern = self._pattern or self._compile()
        return pattern.sub(REDACTED, text) if pattern.pattern else text

    def _compile(self) -> re.Pattern[str]:
        with self._lock:
            anywhere = [re.escape(text) for text in sorted(self._anywhere, key=len, reverse=True)]
            quoted = [
                rf"(?<=[\"']){re.escape(name)}(?=[\"'])"
                for name in sorted(self._usernames, key=len, reverse=True)
            ]
            self._pattern = re.compile("|".join(anywhere + quoted))
            return self._pattern


SECRETS = SecretRegistry()
"""The process-wide registry: engines register their URL, error paths and log handlers scrub with it."""


def scrub(text: str) -> str:
    """`text` without any credential of a URL this process opened."""
    return SECRETS.scrub(text)


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record and scrubs credentials from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its scrubbed rendering; never drops a record."""
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
