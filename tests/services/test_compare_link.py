"""Compare links in a URL: open ones round-trip panes and own settings; blind ones carry them sealed."""

from __future__ import annotations

import base64
import os
import zlib
from urllib.parse import urlencode

from services.compare_link import (
    QUERY_BLIND,
    QUERY_OWN,
    QUERY_PANES,
    CompareLink,
    decode_own,
    encode_own,
    link_query,
    read_link,
)

OWN = {1: {"sync": False, "system": "Own system.", "max_tokens_on": True, "max_tokens": 33, "temperature": 0.3}}


def test_an_open_link_round_trips_panes_and_the_own_settings():
    key = os.urandom(32)
    link = CompareLink(("zircon-east", "quartz-west"), OWN)
    query = link_query(link, key)
    assert query[QUERY_PANES] == "zircon-east,quartz-west" and set(query) == {QUERY_PANES, QUERY_OWN}
    read = read_link(query, key)
    assert read.link == link and read.unreadable == ()


def test_an_open_link_without_own_settings_is_just_the_panes():
    assert link_query(CompareLink(("a", "b")), b"") == {QUERY_PANES: "a,b"}
    read = read_link({QUERY_PANES: " a , b ,"}, b"")
    assert read.link == CompareLink(("a", "b"))


def test_a_blind_link_is_one_token_that_names_no_deployment_and_opens_blind():
    key = os.urandom(32)
    link = CompareLink(("zircon-east", "quartz-west"), OWN, blind=True, shuffle=True)
    query = link_query(link, key)
    assert set(query) == {QUERY_BLIND}
    address = urlencode(query)
    decoded = base64.urlsafe_b64decode(query[QUERY_BLIND] + "==")
    for name in ("zircon", "quartz", "Own system"):
        assert name not in address and name.encode() not in decoded
    read = read_link(query, key)
    assert read.link == link and read.unreadable == ()


def test_a_blind_token_wins_over_open_parameters():
    key = os.urandom(32)
    query = {**link_query(CompareLink(("a",), blind=True), key), QUERY_PANES: "b,c"}
    assert read_link(query, key).link == CompareLink(("a",), blind=True)


def test_a_blind_link_from_another_server_still_opens_blind_and_says_it_could_not_be_read():
    query = link_query(CompareLink(("a", "b"), blind=True), os.urandom(32))
    read = read_link(query, os.urandom(32))
    assert read.link == CompareLink(blind=True) and read.unreadable == ("blind",)


def test_broken_own_settings_keep_the_panes_and_are_reported():
    read = read_link({QUERY_PANES: "a,b", QUERY_OWN: "not-an-encoding!"}, b"")
    assert read.link == CompareLink(("a", "b")) and read.unreadable == ("own",)


def test_a_url_without_a_link_reads_as_none():
    assert read_link({"other": "x"}, b"").link is None


def test_own_settings_decode_keeps_only_small_positions_with_a_dict_of_settings():
    assert decode_own(encode_own(OWN)) == OWN
    crafted = base64.urlsafe_b64encode(zlib.compress(b'{"x": {}, "1": [], "123": {}, "2": {"a": 1}}'))
    assert decode_own(crafted.decode()) == {2: {"a": 1}}
    assert decode_own(base64.urlsafe_b64encode(zlib.compress(b'["a list"]')).decode()) == {}
    assert decode_own(base64.urlsafe_b64encode(zlib.compress(b"x" * 300_000)).decode()) is None
