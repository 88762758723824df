"""The embeddings page in AppTest: a file of numbers only, results of an earlier file marked out of date, "1 text",
the comparison deployment's default, and projection-time captions estimated from the sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services import projection
from services.config import Deployment
from services.safe_markdown import escape_markdown
from tests.services.test_embeddings_server import ToyServer, run_toy_server


def _script() -> None:
    from pages.embeddings import render

    render()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "deployments.toml"
    empty.write_text("")
    monkeypatch.setenv("PLAYGROUND_CONFIG", str(empty))
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    for name in ("PLAYGROUND_LOCAL_ENDPOINT", "AZUREAI_ENDPOINT_URL", "AZUREAI_ENDPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    from app.components.embedding_job import shared_cache

    shared_cache.clear()


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    with run_toy_server(dims=32) as server:
        yield server


def _page(deployments: dict[str, Deployment]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=120)
    at.session_state["deployments_added"] = dict(deployments)
    return at.run()


def _toy_page(toy: ToyServer) -> AppTest:
    return _page({"toy-bow": Deployment(name="toy-bow", endpoint=f"{toy.url}/toy-bow", max_retries=0)})


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.radio(key="emb_source").set_value("Upload a file").run()
    at.file_uploader(key="emb_upload").set_value((name, data, "text/plain")).run()
    assert not at.exception, at.exception


def _embed(at: AppTest) -> None:
    at.button(key="emb_embed").click().run()
    job = at.session_state.get("emb_job")
    if job is not None:
        job.thread.join(timeout=120)
    at.run()
    assert not at.exception, at.exception


def test_a_csv_of_numbers_only_says_no_text_column_was_found_and_lets_the_user_pick_one(toy: ToyServer) -> None:
    at = _toy_page(toy)
    _upload(at, "scores.csv", b"id,score\n1,0.5\n2,0.75\n3,1e3\n")
    assert any("no text column found" in e.value and "scores.csv" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert at.selectbox(key="emb_text_column").value is None  # no numeric column is taken as "text" silently
    assert at.button(key="emb_embed").label == "Embed"
    at.button(key="emb_embed").click().run()
    assert "emb_job" not in at.session_state and toy.state.requests == 0
    at.selectbox(key="emb_text_column").select("score").run()
    assert not any("no text column" in e.value for e in at.error)
    assert at.button(key="emb_embed").label == "Embed 3 texts"


def test_a_csv_with_a_text_column_among_numbers_picks_the_text_column(toy: ToyServer) -> None:
    at = _toy_page(toy)
    _upload(at, "mixed.csv", b"id,value,note\n1,100000000000,a cat\n2,200000000000,a dog\n")
    assert at.selectbox(key="emb_text_column").value == "note"
    assert not at.error


def test_results_of_an_earlier_file_are_marked_out_of_date_after_a_new_upload(toy: ToyServer) -> None:
    at = _toy_page(toy)
    _upload(at, "first.txt", b"red apples\ngreen pears\nyellow bananas\n")
    _embed(at)
    assert any("3 of 3 texts embedded" in m.value for m in at.markdown)
    assert not any("Out of date" in w.value for w in at.warning)
    _upload(at, "second.txt", b"stock markets\ninterest rates\n")
    assert at.button(key="emb_embed").label == "Embed 2 texts"
    stale = [w.value for w in at.warning if "Out of date" in w.value]
    # The file names as markdown shows them (escaped: a name is the user's text).
    assert len(stale) == 1 and escape_markdown("first.txt") in stale[0] and escape_markdown("second.txt") in stale[0]
    assert "3 texts" in stale[0] and "2 texts" in stale[0]
    _embed(at)
    assert not any("Out of date" in w.value for w in at.warning)
    assert any("2 of 2 texts embedded" in m.value for m in at.markdown)


def test_one_text_is_counted_in_the_singular(toy: ToyServer) -> None:
    at = _toy_page(toy)
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("just one line").run()
    assert at.button(key="emb_embed").label == "Embed 1 text"
    _embed(at)
    assert any(m.value.startswith("1 of 1 text embedded") for m in at.markdown), [m.value for m in at.markdown]
    at.text_area(key="emb_paste").input("one line\nand another").run()
    assert at.button(key="emb_embed").label == "Embed 2 texts"


def test_compare_with_defaults_to_the_second_embeddings_deployment(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    assert at.selectbox(key="emb_deployment").value == "all-minilm-l6-v2"
    assert at.selectbox(key="emb_compare_with").value == "paraphrase-minilm-l3-v2"
    # A choice of no comparison is the user's and stays.
    at.selectbox(key="emb_compare_with").set_value("(none)").run()
    at.run()
    assert at.selectbox(key="emb_compare_with").value == "(none)"
    # Main switched to the chosen comparison's deployment: that choice cannot stay, and no comparison is the default.
    at.selectbox(key="emb_compare_with").set_value("paraphrase-minilm-l3-v2").run()
    at.selectbox(key="emb_deployment").set_value("paraphrase-minilm-l3-v2").run()
    assert at.selectbox(key="emb_compare_with").value == "(none)"


def test_the_default_comparison_follows_the_main_deployment_until_one_is_chosen(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments)
    assert at.selectbox(key="emb_compare_with").value == "paraphrase-minilm-l3-v2"
    # Another main deployment: the default comparison (never chosen) goes, so one deployment's texts are not
    # embedded twice unasked.
    at.selectbox(key="emb_deployment").set_value("smollm2-135m-instruct").run()
    assert at.selectbox(key="emb_compare_with").value == "(none)"
    at.selectbox(key="emb_deployment").set_value("all-minilm-l6-v2").run()
    assert at.selectbox(key="emb_compare_with").value == "paraphrase-minilm-l3-v2"
    # A comparison the user picked stays when the main deployment changes.
    at.selectbox(key="emb_compare_with").set_value("image-descriptor").run()
    at.selectbox(key="emb_deployment").set_value("smollm2-135m-instruct").run()
    assert at.selectbox(key="emb_compare_with").value == "image-descriptor"


def test_compare_with_stays_empty_with_one_embeddings_deployment(local_deployments: dict[str, Deployment]) -> None:
    at = _page({name: local_deployments[name] for name in ("smollm2-135m-instruct", "all-minilm-l6-v2")})
    assert at.selectbox(key="emb_deployment").value == "all-minilm-l6-v2"
    assert at.selectbox(key="emb_compare_with").value == "(none)"


@pytest.mark.parametrize(("method", "key"), [("t-SNE", "tsne"), ("UMAP", "umap")])
def test_projection_captions_give_an_estimate_from_the_number_of_points(
    toy: ToyServer, monkeypatch: pytest.MonkeyPatch, method: str, key: str
) -> None:
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(12)]
    at = _toy_page(toy)
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("\n".join(texts)).run()
    _embed(at)
    # Twelve points take well under a second: no caption at the built-in rate.
    monkeypatch.setattr(projection, "_MEASURED", set())
    at.radio(key="emb_method").set_value(method).run()
    assert not any(f"{method} of" in c.value for c in at.caption), [c.value for c in at.caption]
    # At a rate that makes twelve points take about 40 s, the caption says so, in 3D as well.
    rates = dict(projection._SECONDS_PER_UNIT)
    rates[key] = 40.0 / projection._work(key, 12, 3)
    monkeypatch.setattr(projection, "_SECONDS_PER_UNIT", rates)
    at.radio(key="emb_dims").set_value("3D").run()
    captions = [c.value for c in at.caption if f"{method} of" in c.value]
    assert captions == [f"{method} of 12 points in 3D: about 40 s (estimated from the number of points)."], [
        c.value for c in at.caption
    ]
