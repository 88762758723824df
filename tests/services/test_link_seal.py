"""Sealed link tokens: unreadable without the server's key, tamper-evident, and openable after a restart."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from services.link_seal import KEY_FILE, LINK_SECRET_ENV, link_key, open_token, seal
from tests.fixtures.app_server import REPO_ROOT

PAYLOAD = {"panes": ["zircon-east", "quartz-west"], "own": {"1": {"max_tokens": 33}}, "shuffle": True}
PURPOSE = "test purpose"


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_a_sealed_payload_opens_with_its_key_and_purpose_only():
    key, other = os.urandom(32), os.urandom(32)
    token = seal(PAYLOAD, key, purpose=PURPOSE)
    assert open_token(token, key, purpose=PURPOSE) == PAYLOAD
    assert open_token(token, other, purpose=PURPOSE) is None
    assert open_token(token, key, purpose="another purpose") is None


def test_a_token_names_nothing_it_carries_even_decoded_or_inflated():
    key = os.urandom(32)
    token = seal(PAYLOAD, key, purpose=PURPOSE)
    raw = _raw(token)
    for name in ("zircon-east", "quartz-west", "zircon", "quartz"):
        assert name not in token and name.encode() not in raw
    with pytest.raises(zlib.error):
        zlib.decompress(raw[13:])  # the ciphertext is not the compressed JSON either


def test_two_seals_of_one_payload_differ_so_equal_links_cannot_be_told_apart():
    key = os.urandom(32)
    assert seal(PAYLOAD, key, purpose=PURPOSE) != seal(PAYLOAD, key, purpose=PURPOSE)


@pytest.mark.parametrize("change", ["flip_a_bit", "cut_short", "not_base64", "empty", "other_version", "huge"])
def test_an_altered_or_foreign_token_does_not_open(change):
    key = os.urandom(32)
    token = seal(PAYLOAD, key, purpose=PURPOSE)
    raw = bytearray(_raw(token))
    if change == "flip_a_bit":
        raw[20] ^= 1
        token = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    elif change == "cut_short":
        token = token[:-6]
    elif change == "not_base64":
        token = "§§§not a token§§§"
    elif change == "empty":
        token = ""
    elif change == "other_version":
        raw[0] = 2
        token = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    else:
        token = "A" * 33_000
    assert open_token(token, key, purpose=PURPOSE) is None


def test_a_token_that_would_inflate_past_the_limit_does_not_open():
    key = os.urandom(32)
    token = seal({"panes": ["x" * 200_000]}, key, purpose=PURPOSE)
    assert len(token) < 2_000  # small in the URL, large once inflated
    assert open_token(token, key, purpose=PURPOSE) is None


def test_the_key_file_is_made_once_owner_only_and_read_back(tmp_path):
    env = {"PLAYGROUND_DATA_DIR": str(tmp_path)}
    key = link_key(env)
    path = tmp_path / KEY_FILE
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert link_key(env) == key
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no draft left behind


def test_a_link_sealed_here_opens_in_a_new_process_with_the_same_data_directory(tmp_path):
    """What an app restart does: a fresh interpreter reads the key file and opens the token."""
    token = seal(PAYLOAD, link_key({"PLAYGROUND_DATA_DIR": str(tmp_path)}), purpose=PURPOSE)
    code = (
        "import json, sys; from services.link_seal import link_key, open_token; "
        f"print(json.dumps(open_token(sys.argv[1], link_key(), purpose={PURPOSE!r})))"
    )
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    env.pop(LINK_SECRET_ENV, None)
    out = subprocess.run([sys.executable, "-c", code, token], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == PAYLOAD


def test_a_configured_secret_gives_every_replica_the_same_key_and_writes_no_file(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    keys = [link_key({"PLAYGROUND_DATA_DIR": str(d), LINK_SECRET_ENV: "shared secret"}) for d in (one, two)]
    assert keys[0] == keys[1] and len(keys[0]) == 32
    assert not one.exists() and not two.exists()
    assert link_key({"PLAYGROUND_DATA_DIR": str(one), LINK_SECRET_ENV: "another"}) != keys[0]


def test_a_key_file_edited_by_hand_still_gives_a_usable_key(tmp_path: Path):
    (tmp_path / KEY_FILE).write_bytes(b"short")
    key = link_key({"PLAYGROUND_DATA_DIR": str(tmp_path)})
    assert len(key) == 32
    assert open_token(seal(PAYLOAD, key, purpose=PURPOSE), key, purpose=PURPOSE) == PAYLOAD
