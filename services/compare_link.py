"""What a compare link carries, and how it is written in a URL.

In the open: `?panes=a,b` (the deployments, in pane order), `own=` for the panes with their own settings (sync
off): base64url of compressed JSON, pane position -> the fields that differ from the defaults, and `tools=` when tool
calls are answered automatically or canned results are set (the same encoding of `{"auto": …, "canned": …}`). While
blind: only
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
QUERY_TOOLS = "tools"
LINK_PARAMS = (QUERY_PANES, QUERY_OWN, QUERY_BLIND, QUERY_TOOLS)
BLIND_PURPOSE = "compare blind link v1"
_MAX_OWN_CHARS = 32_000
_MAX_OWN_BYTES = 256_000
_MAX_CANNED_CHARS = 100_000  # canned results longer than this in a link are not ones the page wrote


@dataclass(frozen=True)
class CompareLink:
    """The panes' deployments in order, each unsynced pane's own settings by position, blind mode and its shuffle,
    whether tool calls are answered automatically, and the canned results' text (as typed in their editor)."""

    deployments: tuple[str, ...] = ()
    own: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    blind: bool = False
    shuffle: bool = False
    auto_tools: bool = False
    canned: str = ""

    def tools(self) -> dict[str, Any]:
        """The tool settings as JSON data ({} when both are at their defaults)."""
        return ({"auto": True} if self.auto_tools else {}) | ({"canned": self.canned} if self.canned else {})

    def payload(self) -> dict[str, Any]:
        """The link as plain JSON data (what a blind token seals)."""
        return {
            "panes": list(self.deployments),
            "own": {str(pos): dict(values) for pos, values in sorted(self.own.items())},
            "shuffle": self.shuffle,
            "tools": self.tools(),
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


def _pack(value: Any) -> str:
    """JSON data as base64url of compressed canonical JSON (a query parameter's value)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(text.encode())).rstrip(b"=").decode()


def _unpack(value: str) -> Any:
    """The JSON data in a _pack() value; raises ValueError when it is not one (cut short, altered, or too large)."""
    if len(value) > _MAX_OWN_CHARS:
        raise ValueError("too long")
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), _MAX_OWN_BYTES)
    except (binascii.Error, zlib.error) as exc:
        raise ValueError("not an encoding") from exc
    if inflater.unconsumed_tail:
        raise ValueError("too large")
    return json.loads(data)


def encode_own(own: Mapping[int, Mapping[str, Any]]) -> str:
    """The `own=` value: pane position -> settings, as base64url of compressed JSON."""
    return _pack({str(p): dict(v) for p, v in sorted(own.items())})


def decode_own(value: str) -> dict[int, dict[str, Any]] | None:
    """The settings in an `own=` value; None when it is not one (cut short, altered, or too large)."""
    try:
        return _positions(_unpack(value))
    except ValueError:
        return None


def _tools(raw: Any) -> tuple[bool, str]:
    """(answer automatically, canned results text) from a link's tool settings; what they cannot be is dropped."""
    raw = raw if isinstance(raw, dict) else {}
    canned = raw.get("canned")
    return raw.get("auto") is True, canned if isinstance(canned, str) and len(canned) <= _MAX_CANNED_CHARS else ""


def encode_tools(link: CompareLink) -> str:
    """The `tools=` value: whether calls are answered automatically and the canned results, compressed."""
    return _pack(link.tools())


def decode_tools(value: str) -> tuple[bool, str] | None:
    """(answer automatically, canned results text) in a `tools=` value; None when it is not one."""
    try:
        return _tools(_unpack(value))
    except ValueError:
        return None


def link_query(link: CompareLink, key: bytes) -> dict[str, str]:
    """The query parameters that open `link` (a new token on each call while blind: see the page's cache)."""
    if link.blind:
        return {QUERY_BLIND: seal(link.payload(), key, purpose=BLIND_PURPOSE)}
    query = {QUERY_PANES: ",".join(link.deployments)}
    if link.own:
        query[QUERY_OWN] = encode_own(link.own)
    if link.tools():
        query[QUERY_TOOLS] = encode_tools(link)
    return query


@dataclass(frozen=True)
class ReadLink:
    """A link read from a URL, and what could not be read of it."""

    link: CompareLink | None  # None: the URL holds no compare link
    # Each part that could not be read: "blind" (a token this server cannot open), "own" (broken pane settings),
    # "tools" (broken tool settings). A link can have several broken parts: each is named.
    unreadable: tuple[str, ...] = ()


def read_link(query: Mapping[str, str | None], key: bytes) -> ReadLink:
    """The link in these query parameters (a blind token wins over open ones)."""
    token = query.get(QUERY_BLIND)
    if token is not None:
        data = open_token(token, key, purpose=BLIND_PURPOSE)
        if data is None:
            return ReadLink(CompareLink(blind=True), unreadable=("blind",))
        auto, canned = _tools(data.get("tools"))
        names, own = _names(data.get("panes")), _positions(data.get("own"))
        return ReadLink(CompareLink(names, own, True, data.get("shuffle") is True, auto, canned))
    panes = query.get(QUERY_PANES)
    own_text = query.get(QUERY_OWN)
    tools_text = query.get(QUERY_TOOLS)
    if panes is None and own_text is None and tools_text is None:
        return ReadLink(None)
    names = tuple(n.strip() for n in (panes or "").split(",") if n.strip())
    own = decode_own(own_text) if own_text else {}
    tools = decode_tools(tools_text) if tools_text else (False, "")
    auto, canned = tools or (False, "")
    unreadable = tuple(part for part, value in (("own", own), ("tools", tools)) if value is None)
    return ReadLink(CompareLink(names, own or {}, auto_tools=auto, canned=canned), unreadable=unreadable)
