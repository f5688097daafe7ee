"""A payload as it may be kept in an incident file: secrets removed, size bounded.

Kept in the incident's `source.payload`, a payload is committed and pushed, and
anyone who can read the repository reads it. So values under secret-like keys
(tokens, passwords, `Authorization`, API keys, credentials, cookies, signatures),
credentials in URLs (`https://user:pass@host`, `?token=…`), bearer and basic
credentials and well-known token shapes are replaced by `[redacted]`; every string
is made safe text (notice.clean), and depth, list lengths and string lengths are cut.
"""

from __future__ import annotations

import re
from typing import Any

from .notice import clean

REDACTED = "[redacted]"
MAX_DEPTH = 6
MAX_ITEMS = 20  # per list; the rest is counted
MAX_KEYS = 60  # per object
MAX_STRING = 1_000
MAX_VALUES = 1_500  # in all: the incident file's front matter stays small

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|apikey|auth(orization)?|credential"
    r"|cookie|session|private[-_]?key|signature|routing[-_]?key|integration[-_]?key|sig)$"
    r"|^(x-)?(api|access|auth|secret|private|client)[-_]?(key|secret|token)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+(:[^/\s@]*)?@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:access_token|token|api_key|apikey|key|secret|password|sig|signature|"
    r"auth|code|session|x-amz-signature|x-amz-credential)=)[^&#\s]+"
)
_SCHEMES = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_TOKENS = re.compile(
    r"\b(xox[abposr]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|AKIA[0-9A-Z]{16}|sk_(live|test)_[A-Za-z0-9]{16,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)


def secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name.replace(" ", "_")))


def redact_text(text: str) -> str:
    """Credentials inside a string (URLs, auth schemes, token shapes) replaced."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _SCHEMES.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _TOKENS.sub(REDACTED, text)


def redact(payload: Any) -> Any:
    """A copy of `payload` fit to keep: no secrets, bounded, every string safe text."""
    budget = [MAX_VALUES]

    def walk(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            return "…"
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                return "…"
            out: dict[str, Any] = {}
            for count, (key, item) in enumerate(value.items()):
                if count >= MAX_KEYS:
                    out["…"] = f"{len(value) - MAX_KEYS} more keys"
                    break
                name = clean(key, 100) or "?"
                if secret_key(name) and item not in (None, "", [], {}):
                    out[name] = REDACTED
                else:
                    out[name] = walk(item, depth + 1)
            return out
        if isinstance(value, list):
            if depth >= MAX_DEPTH:
                return "…"
            kept = [walk(item, depth + 1) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                kept.append(f"… {len(value) - MAX_ITEMS} more")
            return kept
        if isinstance(value, str):
            return clean(redact_text(value[: MAX_STRING * 2]), MAX_STRING)
        if isinstance(value, float) and value != value:  # NaN cannot be written back
            return None
        return value

    return walk(payload, 0)
