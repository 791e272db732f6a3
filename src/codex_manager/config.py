"""Client configuration: where the server is and how to authenticate.

:class:`ClientConfig` is an immutable value built from arguments, from the environment
(:meth:`ClientConfig.from_env`) or from the codex-manager CLI profile file
(:meth:`ClientConfig.from_profile`). Malformed values raise :class:`ConfigError` naming the
variable or key; nothing is silently ignored. Secrets (tokens, the values of the custom
headers) never appear in its ``repr()``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from codex_manager.errors import ConfigError

DEFAULT_BASE_URL = "http://127.0.0.1:3001"
"""Where codex-manager listens by default."""
DEFAULT_API_PREFIX = "/api"
"""Prefix of every route."""
DEFAULT_TIMEOUT = 60.0
"""Default request timeout in seconds (the server's own codex calls time out after 120 s)."""

ENV_BASE_URL = "CODEX_MANAGER_API_BASE"
ENV_API_PREFIX = "CODEX_MANAGER_API_PREFIX"
ENV_TIMEOUT_MS = "CODEX_MANAGER_TIMEOUT_MS"
ENV_BEARER_TOKEN = "CODEX_MANAGER_BEARER_TOKEN"
ENV_RBAC_TOKEN = "CODEX_MANAGER_RBAC_TOKEN"
ENV_RBAC_ROLE = "CODEX_MANAGER_RBAC_ROLE"
ENV_RBAC_ACTOR = "CODEX_MANAGER_RBAC_ACTOR"

PROFILE_RELATIVE_PATH = Path("codex-manager") / "cli" / "config.json"
"""Location of the CLI profile file under ``$XDG_CONFIG_HOME`` (or ``~/.config``)."""

RBAC_TOKEN_HEADER = "x-codex-rbac-token"
RBAC_ROLE_HEADER = "x-codex-rbac-role"
RBAC_ACTOR_HEADER = "x-codex-rbac-actor"

_SECRET_HEADER_HINTS = (
    "auth",
    "token",
    "key",
    "secret",
    "cookie",
    "password",
    "session",
    "credential",
    "signature",
)


def is_secret_header(name: str) -> bool:
    """Whether a header's value must be hidden from reprs and logs."""
    lowered = name.lower()
    return any(hint in lowered for hint in _SECRET_HEADER_HINTS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with secret-looking values replaced by ``"***"``."""
    return {k: ("***" if is_secret_header(k) else v) for k, v in headers.items()}


def normalize_base_url(value: str, *, source: str) -> str:
    """Validate an ``http(s)://host[:port][/path]`` URL; ``source`` names it in errors."""
    text = value.strip()
    shown = _without_userinfo(text)  # errors end up in logs: never the password
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ConfigError(f"{source} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"{source} must be an http:// or https:// URL with a host (got {shown!r})"
        )
    if not parts.hostname:
        raise ConfigError(f"{source} has no host (got {shown!r})")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{source} has an invalid port (got {shown!r})") from None
    if parts.query or parts.fragment:
        raise ConfigError(f"{source} must not contain a query or fragment (got {shown!r})")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


_PATH_TEXT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
"""What a URL path may hold as written (RFC 3986 pchar and "/"; "%" for escapes)."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token)."""


def normalize_api_prefix(value: str, *, source: str) -> str:
    """``"api/"`` -> ``"/api"``; ``""`` or ``"/"`` -> ``""`` (routes at the root)."""
    text = value.strip()
    if any(ch in text for ch in "?#") or "://" in text:
        raise ConfigError(f"{source} must be a path such as '/api' (got {text!r})")
    if not _PATH_TEXT.fullmatch(text):
        # Sent as written in every request path and the stream's URL: anything else would
        # break each request (non-ASCII) or the request line (spaces, controls).
        raise ConfigError(
            f"{source} must be a path of ASCII letters, digits and -._~!$&'()*+,;=:@%/ "
            f"(got {text!r})"
        )
    text = text.strip("/")
    return f"/{text}" if text else ""


def timeout_from_ms(value: object, *, source: str) -> float:
    """Milliseconds (number or numeric string) to seconds; must be finite and > 0."""
    if isinstance(value, bool):
        raise ConfigError(f"{source} must be a number of milliseconds (got {value!r})")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(
                f"{source} must be a number of milliseconds (got {value!r})"
            ) from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ConfigError(f"{source} must be a number of milliseconds (got {value!r})")
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{source} must be a positive number of milliseconds (got {value!r})")
    return _validate_timeout(number / 1000.0, source=source)


def _validate_timeout(value: float, *, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{source} must be a number of seconds (got {value!r})")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source} must be a positive number of seconds (got {value!r})")
    if value > threading.TIMEOUT_MAX:  # sockets refuse longer waits (OverflowError)
        raise ConfigError(
            f"{source} must be at most {threading.TIMEOUT_MAX:g} seconds (got {value!r})"
        )
    return float(value)


_SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/*")


def _without_userinfo(text: str) -> str:
    """``text`` with everything before its last ``@`` (after a scheme) shown as ``***``.

    For URLs being refused: one too malformed to parse may still hold a password.
    """
    at = text.rfind("@")
    if at < 0:
        return text
    scheme = _SCHEME_PREFIX.match(text)
    start = scheme.end() if scheme is not None and scheme.end() <= at else 0
    return text[:start] + "***" + text[at:]


def redact_url(url: str) -> str:
    """``url`` with the password of its user info (``http://user:pw@host``) shown as ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


def _basic_credentials(url: str) -> str | None:
    """The ``Authorization`` value for the user info of ``url``, as httpx sends it."""
    parts = urlsplit(url)
    if not parts.username and parts.password is None:
        return None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, or ``None`` when it can.

    httpx encodes header values as ASCII (anything else raises deep inside a request), and
    control characters would corrupt the request or be refused by the server.
    """
    if "\n" in value or "\r" in value:
        return "must not contain line breaks"
    if not value.isascii():
        return "must contain only ASCII characters (it is sent as an HTTP header)"
    if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
        return "must not contain control characters"
    return None


def _validate_headers(headers: Mapping[str, object], *, source: str) -> Mapping[str, str]:
    clean: dict[str, str] = {}
    for name, val in headers.items():
        if not _TOKEN.fullmatch(name):
            raise ConfigError(
                f"{source} has an invalid header name {name!r} (letters, digits and "
                "!#$%&'*+.^_`|~- only)"
            )
        if not isinstance(val, str):
            shown = "***" if is_secret_header(name) else repr(val)
            raise ConfigError(f"{source}[{name!r}] must be a string (got {shown})")
        problem = header_value_problem(val)
        if problem is not None:
            raise ConfigError(f"{source}[{name!r}] {problem}")
        clean[name] = val
    return MappingProxyType(clean)


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """Connection settings shared by the REST client and the event stream.

    Attributes:
        base_url: Server origin, e.g. ``http://127.0.0.1:3001``.
        api_prefix: Prefix of every route (``/api``).
        timeout: Request timeout in seconds.
        headers: Extra headers sent with every request (values hidden from ``repr``).
        bearer_token: Sent as ``Authorization: Bearer <token>``.
        rbac_token: Sent as ``x-codex-rbac-token``.
        rbac_role: Sent as ``x-codex-rbac-role``.
        rbac_actor: Sent as ``x-codex-rbac-actor``.
    """

    base_url: str = DEFAULT_BASE_URL
    api_prefix: str = DEFAULT_API_PREFIX
    timeout: float = DEFAULT_TIMEOUT
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    bearer_token: str | None = None
    rbac_token: str | None = None
    rbac_role: str | None = None
    rbac_actor: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize in place once
        set_(self, "base_url", normalize_base_url(self.base_url, source="base_url"))
        set_(self, "api_prefix", normalize_api_prefix(self.api_prefix, source="api_prefix"))
        set_(self, "timeout", _validate_timeout(self.timeout, source="timeout"))
        set_(self, "headers", _validate_headers(self.headers, source="headers"))
        for name in ("bearer_token", "rbac_token", "rbac_role", "rbac_actor"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a string or None")
            problem = header_value_problem(value) if isinstance(value, str) else None
            if problem is not None:
                raise ConfigError(f"{name} {problem}")
            if isinstance(value, str) and value != value.strip():
                # HTTP drops whitespace around a header value (and httpx refuses to send it).
                set_(self, name, value.strip())

    def __repr__(self) -> str:
        def secret(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"ClientConfig(base_url={redact_url(self.base_url)!r}, api_prefix={self.api_prefix!r}, "
            # Every custom header's value: which of them are secret only the caller knows.
            f"timeout={self.timeout!r}, headers={dict.fromkeys(self.headers, '***')!r}, "
            f"bearer_token={secret(self.bearer_token)}, rbac_token={secret(self.rbac_token)}, "
            f"rbac_role={self.rbac_role!r}, rbac_actor={self.rbac_actor!r})"
        )

    def auth_headers(self) -> dict[str, str]:
        """Headers for every request: custom headers, then the credentials on top."""
        credentials: dict[str, str] = {}
        if self.bearer_token:
            credentials["Authorization"] = f"Bearer {self.bearer_token}"
        basic = _basic_credentials(self.base_url)
        if basic is not None:
            # Credentials in the base URL win, as httpx lets them win over a default header.
            # Every request carries them here: no URL the SDK sends to has them (server_url).
            credentials["Authorization"] = basic
        if self.rbac_token:
            credentials[RBAC_TOKEN_HEADER] = self.rbac_token
        if self.rbac_role:
            credentials[RBAC_ROLE_HEADER] = self.rbac_role
        if self.rbac_actor:
            credentials[RBAC_ACTOR_HEADER] = self.rbac_actor
        # Header names are case-insensitive: a custom "authorization" is replaced, not sent
        # beside the bearer token as a second Authorization header.
        replaced = {name.lower() for name in credentials}
        result = {
            name: value for name, value in self.headers.items() if name.lower() not in replaced
        }
        result.update(credentials)
        return result

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value (tokens and secret-looking header values), for redaction."""
        values = [v for v in (self.bearer_token, self.rbac_token) if v]
        password = urlsplit(self.base_url).password
        if password:
            values += dict.fromkeys((password, unquote(password)))  # as written, as sent
        values += [v for k, v in self.headers.items() if v and is_secret_header(k)]
        return tuple(values)

    @cached_property
    def server_url(self) -> str:
        """``base_url`` without user info: the credentials travel in :meth:`auth_headers`.

        (Left in the URL, some transports would send them a second way: aiohttp refuses
        a request with both.)
        """
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    @cached_property  # read on every call: worked out once (the config is frozen)
    def api_base(self) -> str:
        """``server_url`` joined with ``api_prefix``, e.g. ``http://127.0.0.1:3001/api``."""
        return self.server_url + self.api_prefix

    def api_url(self, path: str) -> str:
        """Absolute URL of a route path given without the prefix (``"/sessions"``)."""
        return self.api_base + "/" + path.lstrip("/")

    def stream_url(self, thread_id: str | None = None) -> str:
        """Websocket URL of ``<prefix>/stream``, filtered to ``thread_id`` when given."""
        parts = urlsplit(self.server_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = f"threadId={quote(thread_id, safe='')}" if thread_id is not None else ""
        return urlunsplit(
            (scheme, parts.netloc, parts.path + self.api_prefix + "/stream", query, "")
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientConfig:
        """Read ``CODEX_MANAGER_*`` variables (see the module constants).

        Unset or empty variables take the defaults; malformed ones raise
        :class:`ConfigError` naming the variable.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value is not None and value.strip() else None

        def header_value(name: str) -> str | None:
            value = get(name)
            problem = header_value_problem(value.strip()) if value is not None else None
            if problem is not None:
                raise ConfigError(f"{name} {problem}")
            return value

        base_url = get(ENV_BASE_URL)
        prefix = get(ENV_API_PREFIX)
        timeout_ms = get(ENV_TIMEOUT_MS)
        return cls(
            base_url=(
                normalize_base_url(base_url, source=ENV_BASE_URL) if base_url else DEFAULT_BASE_URL
            ),
            api_prefix=(
                normalize_api_prefix(prefix, source=ENV_API_PREFIX)
                if prefix is not None
                else DEFAULT_API_PREFIX
            ),
            timeout=(
                timeout_from_ms(timeout_ms, source=ENV_TIMEOUT_MS)
                if timeout_ms is not None
                else DEFAULT_TIMEOUT
            ),
            bearer_token=header_value(ENV_BEARER_TOKEN),
            rbac_token=header_value(ENV_RBAC_TOKEN),
            rbac_role=header_value(ENV_RBAC_ROLE),
            rbac_actor=header_value(ENV_RBAC_ACTOR),
        )

    @classmethod
    def from_profile(
        cls,
        name: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Read a profile of the codex-manager CLI config file.

        The file is ``config_path``, else ``$XDG_CONFIG_HOME/codex-manager/cli/config.json``
        (``~/.config`` when ``XDG_CONFIG_HOME`` is unset). Its shape is
        ``{currentProfile, profiles: {name: {baseUrl, apiPrefix, timeoutMs, headers,
        auth: {bearer, rbacToken, role, actor}}}}``.

        A missing file gives the defaults (unless ``config_path`` was given explicitly).
        The profile is ``name``, else ``currentProfile``, else ``"default"``; an unknown
        name that was asked for (argument or ``currentProfile``) raises :class:`ConfigError`.
        """
        env = os.environ if environ is None else environ
        explicit_path = config_path is not None
        path = Path(config_path) if config_path is not None else profile_path(env)
        if not path.exists():
            if explicit_path:
                raise ConfigError(f"profile file {str(path)!r} does not exist")
            if name is not None:
                raise ConfigError(f"profile {name!r} not found: {str(path)!r} does not exist")
            return cls()
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"profile file {str(path)!r} is unreadable: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"profile file {str(path)!r} is not valid JSON: {exc}") from exc
        return _config_from_profile_document(document, name=name, where=str(path))


def profile_path(environ: Mapping[str, str] | None = None) -> Path:
    """Default location of the CLI profile file."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME")
    root = Path(xdg) if xdg else Path(env.get("HOME") or Path.home()) / ".config"
    return root / PROFILE_RELATIVE_PATH


def _config_from_profile_document(
    document: object, *, name: str | None, where: str
) -> ClientConfig:
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: top level must be a JSON object")
    current = document.get("currentProfile")
    if current is not None and not isinstance(current, str):
        raise ConfigError(f"{where}: currentProfile must be a string")
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{where}: profiles must be an object")
    chosen = name or current or "default"
    if chosen not in profiles:
        if name is None and current is None:
            return ClientConfig()
        known = ", ".join(sorted(map(str, profiles))) or "none"
        raise ConfigError(f"{where}: unknown profile {chosen!r} (known: {known})")
    profile = profiles[chosen]
    key = f"{where}: profiles.{chosen}"
    if not isinstance(profile, dict):
        raise ConfigError(f"{key} must be an object")

    def string(obj: dict[str, object], field_name: str, label: str) -> str | None:
        value = obj.get(field_name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{label}.{field_name} must be a string")
        return value

    def header_value(obj: dict[str, object], field_name: str, label: str) -> str | None:
        value = string(obj, field_name, label)
        problem = header_value_problem(value.strip()) if value is not None else None
        if problem is not None:
            raise ConfigError(f"{label}.{field_name} {problem}")
        return value

    base_url = string(profile, "baseUrl", key)
    prefix = string(profile, "apiPrefix", key)
    timeout_ms = profile.get("timeoutMs")
    headers = profile.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(f"{key}.headers must be an object of strings")
    auth = profile.get("auth", {})
    if auth is None:
        auth = {}
    if not isinstance(auth, dict):
        raise ConfigError(f"{key}.auth must be an object")
    auth_key = f"{key}.auth"
    return ClientConfig(
        base_url=normalize_base_url(base_url, source=f"{key}.baseUrl")
        if base_url
        else DEFAULT_BASE_URL,
        api_prefix=normalize_api_prefix(prefix, source=f"{key}.apiPrefix")
        if prefix is not None
        else DEFAULT_API_PREFIX,
        timeout=timeout_from_ms(timeout_ms, source=f"{key}.timeoutMs")
        if timeout_ms is not None
        else DEFAULT_TIMEOUT,
        headers=_validate_headers(headers, source=f"{key}.headers"),
        bearer_token=header_value(auth, "bearer", auth_key),
        rbac_token=header_value(auth, "rbacToken", auth_key),
        rbac_role=header_value(auth, "role", auth_key),
        rbac_actor=header_value(auth, "actor", auth_key),
    )


__all__ = [
    "DEFAULT_API_PREFIX",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ClientConfig",
    "ConfigError",
    "profile_path",
    "redact_headers",
    "redact_url",
]
