"""Saving a poll: `DIR/<source>.accounts.json`, written atomically and only after a poll that
succeeded, holding the answers as received with every token and secret removed.

Removed, at any depth: every key named like a credential (access_token, token, client_secret,
password, secret, authorization, in any spelling: `accessToken`, `Client-Secret`), and every
string holding the client's id or secret or a token the poll used (replaced by <redacted>),
so that an answer echoing them back cannot put them on disk.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lic_exporter.accounts.failures import AccountsError
from lic_exporter.accounts.settings import AccountSource
from lic_exporter.model.accounts import SNAPSHOT_FORMAT, SNAPSHOT_SUFFIX
from lic_exporter.sources.atomic_files import plain_file_name, write_atomically
from lic_exporter.sources.documents import MAX_DOCUMENT_BYTES
from lic_exporter.sources.privacy import REDACTED

FORMAT, SUFFIX = SNAPSHOT_FORMAT, SNAPSHOT_SUFFIX  # the parser reads the same names
SNAPSHOT_MODE = 0o640
MAX_DEPTH = 64
_CREDENTIAL_WORDS = ("token", "secret", "password", "passwd", "authorization", "apikey", "credential")
_LETTERS = re.compile(r"[^a-z]")


def snapshot_path(out_dir: Path, source: str) -> Path:
    return out_dir / f"{source}{SUFFIX}"


@functools.lru_cache(maxsize=4096)  # an answer repeats a few dozen key names thousands of times
def _credential_key(key: str) -> bool:
    name = _LETTERS.sub("", key.lower())
    return any(word in name for word in _CREDENTIAL_WORDS)


def scrub(value: Any, secrets: Iterable[str | None]) -> Any:
    """`value` (a decoded JSON answer) without credentials: see the module's notes."""
    known = [secret for secret in dict.fromkeys(secrets) if secret and len(secret) >= 3]

    def holds_secret(text: str) -> bool:
        return any(secret in text for secret in known)

    def clean(item: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise AccountsError("response", f"an answer nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            return {key: clean(inner, depth + 1) for key, inner in item.items()
                    if not _credential_key(str(key)) and not holds_secret(str(key))}
        if isinstance(item, list):
            return [clean(inner, depth + 1) for inner in item]
        if isinstance(item, str) and holds_secret(item):
            return REDACTED
        return item

    return clean(value, 0)


def snapshot(source: AccountSource, answers: list[dict[str, Any]], secrets: Iterable[str | None],
             polled_at: datetime | None = None) -> dict[str, Any]:
    """The snapshot document of one successful poll (answers scrubbed)."""
    moment = (polled_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {"format": FORMAT, "source": source.name, "type": source.type, "smart_account": source.account,
            "polled_at": moment.isoformat(), "answers": scrub(answers, [*source.secrets, *secrets])}


def snapshot_text(document: dict[str, Any]) -> str:
    """The file's text; AccountsError (`response`) when it would be larger than a snapshot may be
    (the parser's limit), so that a poll never replaces a readable snapshot by one too large."""
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if len(text) > MAX_DOCUMENT_BYTES or len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise AccountsError("response", f"the answers make a snapshot over {MAX_DOCUMENT_BYTES >> 20} MB")
    return text


def write_snapshot(out_dir: Path, source: str, text: str) -> Path:
    """Write the snapshot `text` as DIR/<source>.accounts.json atomically; the path. Raises
    OSError (the previous snapshot is then unchanged)."""
    name = f"{source}{SUFFIX}"
    if not plain_file_name(source) or not plain_file_name(name):
        raise ValueError(f"source name {source!r} cannot name a snapshot file")
    return write_atomically(out_dir, name, text, SNAPSHOT_MODE)
