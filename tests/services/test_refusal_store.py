"""The refusal store on both engines: what a deployment rejected, with when and why, per name and endpoint,
until forgotten."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.store.refusals import MAX_REASON_CHARS, RefusalStore, RefusalStoreError

EP = "https://one.example.models.ai.azure.com"


def test_a_recorded_refusal_is_read_back_by_a_new_store_with_its_reason_and_time(database_url: str) -> None:
    RefusalStore().record("phi", EP, "tools", "rejected with 422", when=1_700_000_000.0)
    found = RefusalStore().refusals("phi", EP)
    assert list(found) == ["tools"]
    assert found["tools"].reason == "rejected with 422"
    assert found["tools"].learned == dt.datetime.fromtimestamp(1_700_000_000.0, dt.UTC)


def test_one_name_on_two_endpoints_or_models_keeps_separate_refusals(database_url: str) -> None:
    store = RefusalStore()
    store.record("default", EP, "tools", "422")
    store.record("default", "https://two.example.com/models", "seed", "422", model="gpt-4o")
    assert set(store.refusals("default", EP)) == {"tools"}
    assert set(store.refusals("default", "https://two.example.com/models", model="gpt-4o")) == {"seed"}
    assert store.refusals("default", "https://two.example.com/models") == {}
    assert store.refusals("other", EP) == {}


def test_a_trailing_slash_on_the_endpoint_names_the_same_deployment(database_url: str) -> None:
    store = RefusalStore()
    store.record("phi", EP + "/", "tools", "422")
    assert set(store.refusals("phi", EP)) == {"tools"}


def test_recording_again_refreshes_reason_and_time_without_a_duplicate(database_url: str) -> None:
    store = RefusalStore()
    store.record("phi", EP, "tools", "old", when=1.0)
    store.record("phi", EP, "tools", "new", when=2.0)
    [refusal] = store.all()
    assert (refusal.reason, refusal.learned.timestamp()) == ("new", 2.0)


def test_forget_one_parameter_or_all_of_a_deployment(database_url: str) -> None:
    store = RefusalStore()
    for param in ("tools", "seed", "response_format"):
        store.record("phi", EP, param, "422")
    store.record("mistral", EP, "tools", "422")
    assert store.forget("phi", EP, param="seed") == 1
    assert set(store.refusals("phi", EP)) == {"tools", "response_format"}
    assert store.forget("phi", EP) == 2
    assert store.refusals("phi", EP) == {}
    assert set(store.refusals("mistral", EP)) == {"tools"}  # another deployment keeps what was learned about it


def test_a_long_multi_line_reason_is_kept_as_one_cut_line(database_url: str) -> None:
    store = RefusalStore()
    store.record("phi", EP, "tools", "first line\nsecond " + "x" * 2000)
    reason = store.refusals("phi", EP)["tools"].reason
    assert "\n" not in reason and reason.startswith("first line second") and len(reason) == MAX_REASON_CHARS


def test_a_refusal_without_a_deployment_or_parameter_is_refused(database_url: str) -> None:
    store = RefusalStore()
    with pytest.raises(ValueError, match="deployment name and a parameter"):
        store.record(" ", EP, "tools", "422")
    with pytest.raises(ValueError, match="deployment name and a parameter"):
        store.record("phi", EP, "", "422")
    assert store.all() == []


def test_a_store_that_cannot_be_opened_names_its_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    store = RefusalStore(blocker / "r.sqlite")
    with pytest.raises(RefusalStoreError, match="not-a-dir"):
        store.refusals("phi", EP)


def test_the_default_store_lives_in_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    RefusalStore().record("phi", EP, "tools", "422")
    assert (tmp_path / "data" / "refusals.sqlite").exists()
