"""Sealed link tokens: a small JSON payload encrypted (AES-GCM) with this server's link key, for URLs that must
not show what they carry (a blind comparison's deployments).

Why a sealed token and not an id of a row kept on the server: the link needs no storage and never expires, it opens
in a fresh session and after a restart, and it cannot be read or altered without the key. The key comes from
`PLAYGROUND_LINK_SECRET` (set it on every replica of one playground so their links open on each other), else from
`link.key` in the data directory, created once with 32 random bytes. A link made under another key does not open
(open_token returns None); nothing else is needed to revoke all links than changing the key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import os
import secrets
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.store.location import data_dir

LINK_SECRET_ENV = "PLAYGROUND_LINK_SECRET"
KEY_FILE = "link.key"
_VERSION = b"\x01"
_NONCE_BYTES = 12
_MAX_TOKEN_CHARS = 32_000  # a URL past this size is not one this app made
_MAX_PAYLOAD_BYTES = 64_000  # what a token may inflate to, so a crafted one cannot take the memory


def _key_from_file(path: Path) -> bytes:
    """The key kept in `path`, created (owner-only) on first use; a concurrent creator's key wins."""
    if path.exists():
        return _as_key(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    try:
        # A hard link publishes the whole file at once, and fails if another process published its key first.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _as_key(path.read_bytes())


def _as_key(material: bytes) -> bytes:
    """32 bytes as they are; anything else (a key file edited by hand) hashed to 32 bytes."""
    return material if len(material) == 32 else hashlib.sha256(material).digest()


@functools.lru_cache(maxsize=8)
def _cached_key(secret: str, path: str) -> bytes:
    if secret:
        return hashlib.sha256(b"playground link key\x00" + secret.encode()).digest()
    return _key_from_file(Path(path))


def link_key(environ: Mapping[str, str] | None = None) -> bytes:
    """This server's 32-byte link key: from PLAYGROUND_LINK_SECRET when set, else the data directory's key file."""
    env = os.environ if environ is None else environ
    secret = env.get(LINK_SECRET_ENV, "").strip()
    return _cached_key(secret, "" if secret else str(data_dir(env) / KEY_FILE))


def seal(payload: Mapping[str, Any], key: bytes, *, purpose: str) -> str:
    """The payload as a URL-safe token readable only with `key`, and only for the same `purpose`.

    A fresh nonce each time: two seals of one payload differ, so equal tokens never tell equal contents apart."""
    data = zlib.compress(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _VERSION + nonce + AESGCM(key).encrypt(nonce, data, purpose.encode())
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def open_token(token: str, key: bytes, *, purpose: str) -> dict[str, Any] | None:
    """The payload sealed in `token`, or None when it was not made with this key and purpose (or was altered)."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= 1 + _NONCE_BYTES or raw[:1] != _VERSION:
        return None
    nonce, body = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(AESGCM(key).decrypt(nonce, body, purpose.encode()), _MAX_PAYLOAD_BYTES)
        payload = json.loads(data) if not inflater.unconsumed_tail else None
    except (InvalidTag, zlib.error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None
