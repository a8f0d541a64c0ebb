"""Where credentials hide in what we send and receive, and the one redaction every text passes.

Keys reach an endpoint in three places: the ``Authorization`` header, the URL's user-info
(``https://user:secret@host``) and the URL's query (``?key=...``, Azure's ``?sig=...``). Anything
the suite logs, stores or shows that could echo one of them (an error body, a log record, a
download error) goes through ``Redactor``: it removes the run's own key values and, whatever
the key, ``Bearer ...`` tokens, URL user-info and the values of credential query parameters.

A query parameter is a credential when its name is one of ``CREDENTIAL_PARAMS`` (compared
without case, ``-`` and ``_`` alike) or one the user lists in ``$EUDAIMONIA_CREDENTIAL_PARAMS``
(comma-separated). Names that merely contain "key" or "auth" (``tokenizer``, ``author``,
``keyword``) are ordinary parameters: they decide the answer, so they stay in the cache key
and run id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

NO_KEY = "sk-no-key-required"
"""Sent when no key variable is configured: local servers ignore it, and the openai client
refuses to start without some key."""

CREDENTIAL_PARAMS_ENV = "EUDAIMONIA_CREDENTIAL_PARAMS"
"""Environment variable listing further credential query-parameter names (comma-separated)."""

CREDENTIAL_PARAMS = frozenset({
    "key", "api_key", "apikey", "x_api_key", "api_token", "token", "access_token", "refresh_token", "id_token",
    "auth", "auth_token", "authorization", "bearer", "jwt", "session_token", "security_token",
    "secret", "client_secret", "secret_key", "access_key", "password", "passwd", "pwd",
    "sig", "signature", "subscription_key", "ocp_apim_subscription_key", "code",
    "x_amz_signature", "x_amz_credential", "x_amz_security_token", "x_goog_signature", "x_goog_credential",
})
"""Query-parameter names known to carry credentials (normalised: lower case, ``-`` -> ``_``)."""


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def credential_params(extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The known credential names plus ``extra`` and the user's ``$EUDAIMONIA_CREDENTIAL_PARAMS``."""
    listed = (os.environ.get(CREDENTIAL_PARAMS_ENV) or "").split(",")
    return CREDENTIAL_PARAMS | {_normalise(n) for n in (*listed, *extra) if n.strip()}


def is_credential_param(name: str, extra: tuple[str, ...] = ()) -> bool:
    """True when a query parameter of this name carries a credential."""
    return _normalise(name) in credential_params(extra)


def split_base_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its query, and the query as parameters to send with every request
    (appending a path to a URL that holds a query would put the path inside the query)."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, dict(parse_qsl(parts.query, keep_blank_values=True))


def public_url(url: str) -> str:
    """The URL without user:password and without query or fragment (where keys sometimes hide)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if port is not None:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def shown_url(url: str) -> str:
    """The URL as it may be shown: no user-info, credential query values replaced."""
    parts, public = urlsplit(url), urlsplit(public_url(url))
    query = [(k, "[redacted]" if is_credential_param(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, public.netloc, parts.path, urlencode(query, safe="[]"), ""))


def cache_scope(url: str) -> str:
    """``public_url`` plus a one-way digest of the query's non-credential parameters (such as
    Azure's ``api-version``), which decide the answer; a key in the query does not, so rotating
    it neither changes a run id nor empties the cache."""
    pairs = sorted((k, v) for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if not is_credential_param(k))
    if not pairs:
        return public_url(url)
    canonical = json.dumps(pairs, separators=(",", ":"))
    return f"{public_url(url)}#query-{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:16]}"


def url_secrets(url: str) -> list[str]:
    """Credentials a URL may carry (user, password, credential query values), for redaction."""
    parts = urlsplit(url)
    values = [parts.username, parts.password, *(v for k, v in parse_qsl(parts.query) if is_credential_param(k))]
    # Short values ("1", "v1") would mangle ordinary error text and are not keys.
    return [v for v in values if v and len(v) >= 6]


_GRAM = 8
"""Length of the secret fragments the redactor hunts for."""
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/=]{%d,}" % _GRAM)
# "(?!\[redacted\])": a text redacted once is left as it is (redacting twice changes nothing).
_BEARER = re.compile(r"\b(Bearer|Basic|Token)(\s+|%20)(?!\[redacted\])[^\s\"',;}\]]+", re.IGNORECASE)
_USERINFO = re.compile(r"(?<=://)[^/\s@\"'<>]+@")
_QUERY_VALUE = re.compile(r"([?&;]|&amp;)([A-Za-z0-9_.\-]+)=([^&#\s\"'<>]*)")
_HEADER_VALUE = re.compile(r"\b((?:x-)?api-key|authorization|ocp-apim-subscription-key)(\"?\s*[:=]\s*\"?)(?!\[redacted\])"
                           r"[^\s\"',;}]+", re.IGNORECASE)


class Redactor:
    """Removes known secrets, any key-like token sharing 8 characters with one, and whatever
    looks like a credential whoever's it is: ``Bearer`` tokens, ``api-key:`` header values, URL
    user-info and credential query values.

    Fragments matter: providers echo keys partially (``sk-proj-****abcd``) and HTTP libraries
    quote header values escaped (``b'Bearer sk-...\\n'``), so whole-string replacement alone
    misses them."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()):
        self._secrets = sorted({s for s in secrets if s and s != NO_KEY}, key=len, reverse=True)
        self._grams = {s[i : i + _GRAM] for s in self._secrets if len(s) >= 2 * _GRAM for i in range(len(s) - _GRAM + 1)}

    def known(self, text: str) -> str:
        """Only this run's own secrets (and fragments of them) removed: for model and judge
        answers, which are research data that generic patterns must not alter."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        if self._grams:
            text = _TOKEN.sub(self._token, text)
        return text

    def __call__(self, text: str) -> str:
        text = self.known(text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} [redacted]", text)
        text = _HEADER_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
        text = _USERINFO.sub("[redacted]@", text)
        return _QUERY_VALUE.sub(self._query, text)

    def _token(self, match: re.Match[str]) -> str:
        token = match.group()
        leaks = any(token[i : i + _GRAM] in self._grams for i in range(len(token) - _GRAM + 1))
        return "[redacted]" if leaks else token

    @staticmethod
    def _query(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}=[redacted]" if value and is_credential_param(name) else match.group()


class RedactingFilter(logging.Filter):
    """A handler filter for every record, from any logger present or future (the HTTP
    libraries' included): the message is redacted, and records from outside this package below
    WARNING are dropped (transport libraries log full request URLs at INFO and DEBUG)."""

    def __init__(self, redactor: Redactor | None = None, package: str = __name__.split(".")[0]):
        super().__init__()
        self._redact = redactor or Redactor()
        self._package = package

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == self._package or record.name.startswith(self._package + ".")
        if not ours and record.levelno < logging.WARNING:
            return False
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._redact(message), None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True
