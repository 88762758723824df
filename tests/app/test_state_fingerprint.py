"""The cached-client fingerprint tells deployments apart by their secrets without holding any of them in clear."""

from __future__ import annotations

from app.state import _fingerprint
from services.config import Deployment


def test_fingerprint_differs_by_header_value_and_key_but_shows_neither() -> None:
    def make(header: str, key: str | None = "key-one") -> Deployment:
        return Deployment(name="a", endpoint="https://x.y", key=key, extra_headers={"x-custom": header})

    base = _fingerprint(make("header-one"))
    assert base == _fingerprint(make("header-one"))
    assert base != _fingerprint(make("header-two"))
    assert base != _fingerprint(make("header-one", key="key-two"))
    assert base != _fingerprint(make("header-one", key=None))
    assert "header-one" not in base and "key-one" not in base
