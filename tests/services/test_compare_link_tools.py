"""Compare links carry the tool settings: "answer tool calls automatically" and the canned results round-trip in an
open link (`tools=`) and sealed in a blind one; a broken `tools=` is reported and leaves both at their defaults."""

from __future__ import annotations

import base64
import os
import zlib
from urllib.parse import urlencode

from services.compare_link import (
    QUERY_BLIND,
    QUERY_OWN,
    QUERY_PANES,
    QUERY_TOOLS,
    CompareLink,
    decode_tools,
    link_query,
    read_link,
)

CANNED = '{"get_weather": {"city": "Oslo", "sky": "clear"}}'


def test_an_open_link_round_trips_auto_answers_and_canned_results():
    link = CompareLink(("a", "b"), auto_tools=True, canned=CANNED)
    query = link_query(link, b"")
    assert set(query) == {QUERY_PANES, QUERY_TOOLS}
    read = read_link(query, b"")
    assert read.link == link and read.unreadable == ()


def test_each_tool_setting_travels_alone_and_defaults_add_nothing():
    for link in (CompareLink(("a",), auto_tools=True), CompareLink(("a",), canned=CANNED)):
        assert read_link(link_query(link, b""), b"").link == link
    assert link_query(CompareLink(("a",)), b"") == {QUERY_PANES: "a"}


def test_a_blind_link_seals_the_tool_settings():
    key = os.urandom(32)
    link = CompareLink(("zircon-east", "quartz-west"), blind=True, auto_tools=True, canned=CANNED)
    query = link_query(link, key)
    assert set(query) == {QUERY_BLIND}
    assert "get_weather" not in urlencode(query)
    assert read_link(query, key).link == link


def test_a_broken_tools_value_is_reported_and_keeps_the_panes():
    read = read_link({QUERY_PANES: "a,b", QUERY_TOOLS: "not-an-encoding!"}, b"")
    assert read.link == CompareLink(("a", "b")) and read.unreadable == ("tools",)


def test_tools_values_that_the_page_never_writes_are_dropped():
    def packed(raw: bytes) -> str:
        return base64.urlsafe_b64encode(zlib.compress(raw)).decode()

    assert decode_tools(packed(b'{"auto": "yes", "canned": 42}')) == (False, "")
    assert decode_tools(packed(b'["a list"]')) == (False, "")
    assert decode_tools(packed(b'{"auto": true, "canned": "' + b"x" * 100_001 + b'"}')) == (True, "")
    assert decode_tools(packed(b"x" * 300_000)) is None


def test_a_link_with_both_settings_broken_names_both():
    read = read_link({QUERY_PANES: "a,b", QUERY_OWN: "cut-short", QUERY_TOOLS: "not-an-encoding!"}, b"")
    assert read.link == CompareLink(("a", "b")) and read.unreadable == ("own", "tools")
