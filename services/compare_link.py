"""What a compare link carries, and how it is written in a URL.

In the open: `?panes=a,b` (the deployments, in pane order) and `own=` for the panes with their own settings (sync
off): base64url of compressed JSON, pane position -> the fields that differ from the defaults. While blind: only
`?blind=<token>`, the same content sealed with this server's link key (services.link_seal), so the address bar
names no deployment and the link still opens blind in a fresh session or after a restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.link_seal import open_token, seal

QUERY_PANES = "panes"
QUERY_OWN = "own"
QUERY_BLIND = "blind"
LINK_PARAMS = (QUERY_PANES, QUERY_OWN, QUERY_BLIND)
BLIND_PURPOSE = "compare blind link v1"
_MAX_OWN_CHARS = 32_000
_MAX_OWN_BYTES = 256_000


@dataclass(frozen=True)
class CompareLink:
    """The panes' deployments in order, each unsynced pane's own settings by position, blind mode and its shuffle."""

    deployments: tuple[str, ...] = ()
    own: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    blind: bool = False
    shuffle: bool = False

    def payload(self) -> dict[str, Any]:
        """The link as plain JSON data (what a blind token seals)."""
        return {
            "panes": list(self.deployments),
            "own": {str(pos): dict(values) for pos, values in sorted(self.own.items())},
            "shuffle": self.shuffle,
        }

    def payload_text(self) -> str:
        """payload() as canonical JSON text (equal links give equal text)."""
        return json.dumps(self.payload(), sort_keys=True, separators=(",", ":"))


def _positions(raw: Any) -> dict[int, dict[str, Any]]:
    """{"1": {...}} -> {1: {...}}; anything that is not a small position with a dict of settings is dropped."""
    if not isinstance(raw, dict):
        return {}
    own: dict[int, dict[str, Any]] = {}
    for pos, values in raw.items():
        if isinstance(pos, str) and pos.isdigit() and len(pos) <= 2 and isinstance(values, dict):
            own[int(pos)] = values
    return own


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(n for n in raw if isinstance(n, str) and n.strip()) if isinstance(raw, list) else ()


def encode_own(own: Mapping[int, Mapping[str, Any]]) -> str:
    """The `own=` value: pane position -> settings, as base64url of compressed JSON."""
    text = json.dumps({str(p): dict(v) for p, v in sorted(own.items())}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(text.encode())).rstrip(b"=").decode()


def decode_own(value: str) -> dict[int, dict[str, Any]] | None:
    """The settings in an `own=` value; None when it is not one (cut short, altered, or too large)."""
    if len(value) > _MAX_OWN_CHARS:
        return None
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), _MAX_OWN_BYTES)
        if inflater.unconsumed_tail:
            return None
        return _positions(json.loads(data))
    except (binascii.Error, zlib.error, ValueError):
        return None


def link_query(link: CompareLink, key: bytes) -> dict[str, str]:
    """The query parameters that open `link` (a new token on each call while blind: see the page's cache)."""
    if link.blind:
        return {QUERY_BLIND: seal(link.payload(), key, purpose=BLIND_PURPOSE)}
    query = {QUERY_PANES: ",".join(link.deployments)}
    if link.own:
        query[QUERY_OWN] = encode_own(link.own)
    return query


@dataclass(frozen=True)
class ReadLink:
    """A link read from a URL, and what could not be read of it."""

    link: CompareLink | None  # None: the URL holds no compare link
    unreadable: str | None = None  # "blind" (a token this server cannot open) or "own" (broken pane settings)


def read_link(query: Mapping[str, str | None], key: bytes) -> ReadLink:
    """The link in these query parameters (a blind token wins over open ones)."""
    token = query.get(QUERY_BLIND)
    if token is not None:
        data = open_token(token, key, purpose=BLIND_PURPOSE)
        if data is None:
            return ReadLink(CompareLink(blind=True), unreadable="blind")
        link = CompareLink(_names(data.get("panes")), _positions(data.get("own")), True, data.get("shuffle") is True)
        return ReadLink(link)
    panes = query.get(QUERY_PANES)
    own_text = query.get(QUERY_OWN)
    if panes is None and own_text is None:
        return ReadLink(None)
    names = tuple(n.strip() for n in (panes or "").split(",") if n.strip())
    own = decode_own(own_text) if own_text else {}
    return ReadLink(CompareLink(names, own or {}), unreadable="own" if own is None else None)
