"""The embeddings page in AppTest against the embedded MiniLM endpoint and the toy embeddings server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from services.config import Deployment
from tests.services.test_embeddings_server import REJECT_MARKER, ToyServer, run_toy_server

PASTED = [
    "The cat sat on the mat.",
    "A kitten sleeps on the rug.",
    "Dogs love to chase balls in the park.",
    "Stocks fell sharply after the earnings report.",
    "The central bank raised interest rates.",
    "Investors sold shares as markets dropped.",
    "Heavy rain is expected tomorrow.",
    "A storm will bring strong winds tonight.",
]


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

    shared_cache.clear()  # a fresh SQLite cache in this test's data directory


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    with run_toy_server(dims=32) as server:
        yield server


def toy_deployment(server: ToyServer, name: str = "toy-bow") -> Deployment:
    return Deployment(name=name, endpoint=f"{server.url}/{name}", max_retries=0)


def _page(deployments: dict[str, Deployment]) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=120)
    at.session_state["deployments_added"] = dict(deployments)
    return at.run()


def _embed(at: AppTest, texts: list[str] | None = None) -> AppTest:
    """Paste texts (or keep the current source), press Embed, wait for the background job, rerun."""
    if texts is not None:
        at.radio(key="emb_source").set_value("Paste texts").run()
        at.text_area(key="emb_paste").input("\n".join(texts)).run()
    at.button(key="emb_embed").click().run()
    _finish(at)
    return at


def _finish(at: AppTest) -> None:
    job = at.session_state.get("emb_job")
    if job is not None:
        job.thread.join(timeout=120)
    at.run()


def _array(values: Any) -> np.ndarray:
    """A plotly array: a list, or a typed array sent as {"dtype", "bdata", "shape"?}."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        shape = values.get("shape")
        return flat.reshape([int(part) for part in str(shape).split(",")]) if shape else flat
    return np.asarray(values)


def _length(values: Any) -> int:
    return len(_array(values))


def _points(chart: Any) -> int:
    """Markers in a plotly chart element, not counting the search-highlight trace."""
    figure = _figure(chart)
    return sum(_length(trace.get("x", [])) for trace in figure["data"] if trace.get("name") != "search results")


def _figure(chart: Any) -> dict[str, Any]:
    return json.loads(chart.proto.spec)


def test_picker_preselects_the_deployment_whose_info_says_embeddings(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    assert not at.exception
    assert at.selectbox(key="emb_deployment").value == "all-minilm-l6-v2"
    # The embedded endpoint's second text embeddings deployment is preselected to compare with.
    assert at.selectbox(key="emb_compare_with").value == "paraphrase-minilm-l3-v2"


def test_pasted_texts_are_embedded_and_plotted_with_one_point_each(local_deployments: dict[str, Deployment]) -> None:
    at = _embed(_page(local_deployments), PASTED)
    assert not at.exception
    assert any("8 of 8 texts embedded" in m.value for m in at.markdown)
    charts = at.get("plotly_chart")
    assert _points(charts[0]) == 8
    assert _figure(charts[0])["data"][0]["type"] == "scatter"


def test_search_lists_the_nearest_texts_with_scores_and_highlights_them(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _embed(_page(local_deployments), PASTED)
    at.number_input(key="emb_top_k").set_value(3).run()
    at.text_input(key="emb_query").input("kitty cats resting").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["text"].tolist()[:2] == ["A kitten sleeps on the rug.", "The cat sat on the mat."] or table[
        "text"
    ].tolist()[:2] == ["The cat sat on the mat.", "A kitten sleeps on the rug."]
    assert table["score"].is_monotonic_decreasing
    highlight = [t for t in _figure(at.get("plotly_chart")[0])["data"] if t["name"] == "search results"]
    assert len(highlight) == 1 and _length(highlight[0]["x"]) == 3


def test_heatmap_orders_items_by_cluster(local_deployments: dict[str, Deployment]) -> None:
    at = _embed(_page(local_deployments), PASTED)
    assert not [c for c in at.get("plotly_chart") if _figure(c)["data"][0]["type"] == "heatmap"]  # lazy tab
    at.session_state["emb_tab"] = "Heatmap"
    at.run()
    heatmaps = [c for c in at.get("plotly_chart") if _figure(c)["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 1
    trace = _figure(heatmaps[0])["data"][0]
    z = _array(trace["z"])
    assert z.shape == (8, 8) and np.allclose(np.diag(z), 1, atol=1e-3)
    # Rows are grouped by cluster: each cluster's rows are contiguous.
    tags = [row[0].split("]")[0] for row in trace["text"]]
    runs = [tag for i, tag in enumerate(tags) if i == 0 or tags[i - 1] != tag]
    assert len(runs) == len(set(tags)) >= 2


def test_reruns_reuse_the_vectors_instead_of_embedding_again(toy: ToyServer) -> None:
    at = _embed(_page({"toy-bow": toy_deployment(toy)}), PASTED)
    sent = toy.state.requests
    at.radio(key="emb_colour").set_value("none").run()
    at.radio(key="emb_dims").set_value("3D").run()
    assert not at.exception
    assert toy.state.requests == sent
    assert _figure(at.get("plotly_chart")[0])["data"][0]["type"] == "scatter3d"


def test_empty_input_gets_a_clear_message(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("  \n\n ").run()
    at.button(key="emb_embed").click().run()
    assert any("no texts to embed" in e.value for e in at.error)
    assert "emb_job" not in at.session_state


def test_texts_over_the_model_limit_are_flagged_and_can_be_left_out(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("\n".join([*PASTED[:3], " ".join(["lengthy"] * 400)])).run()
    assert any("longer than about 256 tokens" in w.value for w in at.warning)
    at.checkbox(key="emb_drop_long").check().run()
    assert "3 texts" in at.button(key="emb_embed").label


def test_deployment_without_embeddings_is_flagged_and_its_refusal_shown(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments)
    at.selectbox(key="emb_deployment").set_value("smollm2-135m-instruct").run()
    at.selectbox(key="emb_compare_with").set_value("(none)").run()  # the refusal of the main deployment alone
    assert any("not embeddings" in w.value for w in at.warning)
    at = _embed(at, PASTED[:3])
    assert not at.exception
    assert not at.get("plotly_chart")
    assert any(m.value == "**:red[smollm2-135m-instruct offers no text embeddings]**" for m in at.markdown), [
        m.value for m in at.markdown
    ]
    assert at.button(key="emb_embed").label == "Embed 3 texts"  # the texts are still there to send elsewhere


def test_partial_failure_keeps_the_other_vectors_and_offers_a_retry(toy: ToyServer) -> None:
    texts = [*PASTED[:5], f"this one is {REJECT_MARKER}", *PASTED[5:]]
    at = _page({"toy-bow": toy_deployment(toy)})
    at.number_input(key="emb_batch_size").set_value(4).run()
    at = _embed(at, texts)
    assert not at.exception
    assert any("1 text(s) could not be embedded" in w.value and "#5" in w.value for w in at.warning)
    assert _points(at.get("plotly_chart")[0]) == 8
    assert at.button(key="emb_retry_missing")
    at.button(key="emb_retry_missing").click().run()
    _finish(at)
    assert any("1 text(s) could not be embedded" in w.value for w in at.warning)  # still refused, nothing lost
    assert any("8 of 9 texts embedded" in m.value for m in at.markdown)


def test_cancel_stops_the_job_and_keeps_what_arrived(toy: ToyServer) -> None:
    toy.state.delay_s = 0.3
    at = _page({"toy-bow": toy_deployment(toy)})
    at.number_input(key="emb_batch_size").set_value(1).run()
    at.number_input(key="emb_concurrency").set_value(1).run()
    at.radio(key="emb_source").set_value("Paste texts").run()
    at.text_area(key="emb_paste").input("\n".join(PASTED)).run()
    at.button(key="emb_embed").click().run()
    assert at.button(key="emb_cancel")
    at.button(key="emb_cancel").click().run()
    _finish(at)
    assert not at.exception
    assert any("Cancelled" in i.value for i in at.info)
    assert toy.state.requests < len(PASTED)
    kept = [c.value for c in at.caption if "are kept" in c.value]
    assert kept and not any("other" in c for c in kept), kept  # nothing failed, so no "other" vectors


def test_compare_two_deployments_shows_overlap_spearman_and_side_by_side_maps(
    local_deployments: dict[str, Deployment], toy: ToyServer
) -> None:
    deployments = {"all-minilm-l6-v2": local_deployments["all-minilm-l6-v2"], "toy-bow": toy_deployment(toy)}
    at = _page(deployments)
    at.selectbox(key="emb_compare_with").set_value("toy-bow").run()
    at = _embed(at, PASTED)
    at.session_state["emb_tab"] = "Compare"
    at.run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    overlap = float(labels["Neighbour overlap@7"])
    assert 0.0 <= overlap <= 1.0
    assert -1.0 <= float(labels["Spearman of similarities"]) <= 1.0
    assert labels["all-minilm-l6-v2 dims"] == "384" and labels["toy-bow dims"] == "32"
    titles = [_figure(c)["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert "all-minilm-l6-v2" in titles and "toy-bow" in titles
    table = at.dataframe[-1].value
    assert len(table) == 8 and table["overlap@7"].is_monotonic_increasing


def test_base64_and_input_type_options_reach_the_endpoint_and_search_uses_query(
    local_deployments: dict[str, Deployment],
) -> None:
    at = _page(local_deployments)
    at.selectbox(key="emb_input_type").set_value("document").run()
    at.selectbox(key="emb_encoding").set_value("base64").run()
    at = _embed(at, PASTED)
    assert not at.exception
    run = at.session_state["emb_run"]
    assert run.sides[0].params == {"input_type": "document", "encoding_format": "base64"}
    assert run.sides[0].result.vectors.shape == (8, 384)
    at.text_input(key="emb_query").input("money and markets").run()
    assert at.dataframe[0].value["text"].tolist()[0] in PASTED[3:6]


def test_refused_dimensions_can_be_retried_without_the_option(local_deployments: dict[str, Deployment]) -> None:
    at = _page(local_deployments)
    at.number_input(key="emb_dimensions").set_value(128).run()
    at = _embed(at, PASTED[:4])
    assert any("does not support `dimensions`" in m.value for m in at.markdown)
    at.button(key="retry_without_emb_fatal_all-minilm-l6-v2").click().run()
    _finish(at)
    assert not at.exception
    assert at.number_input(key="emb_dimensions").value == 0
    assert any("4 of 4 texts embedded" in m.value for m in at.markdown)
    assert at.session_state["emb_run"].sides[0].params == {}


@pytest.mark.parametrize("method", ["UMAP", "t-SNE"])
def test_nonlinear_projections_plot_every_text(toy: ToyServer, method: str) -> None:
    at = _embed(_page({"toy-bow": toy_deployment(toy)}), PASTED)
    at.radio(key="emb_method").set_value(method).run()
    assert not at.exception
    assert _points(at.get("plotly_chart")[0]) == len(PASTED)


def test_too_few_texts_for_umap_fall_back_to_pca_with_a_message(toy: ToyServer) -> None:
    at = _embed(_page({"toy-bow": toy_deployment(toy)}), PASTED[:3])
    at.radio(key="emb_method").set_value("UMAP").run()
    assert any("UMAP cannot run here" in w.value and "at least 4" in w.value for w in at.warning)
    assert _points(at.get("plotly_chart")[0]) == 3


def test_a_comparison_deployment_that_refuses_everything_leaves_the_main_results_usable(
    local_deployments: dict[str, Deployment], toy: ToyServer
) -> None:
    deployments = {"toy-bow": toy_deployment(toy), "smollm2-135m-instruct": local_deployments["smollm2-135m-instruct"]}
    at = _page(deployments)
    at.selectbox(key="emb_compare_with").set_value("smollm2-135m-instruct").run()
    at = _embed(at, PASTED)
    assert not at.exception
    assert any(m.value == "**:red[smollm2-135m-instruct offers no text embeddings]**" for m in at.markdown)
    assert any("8 of 8 texts embedded with **toy-bow**" in m.value for m in at.markdown)
    assert _points(at.get("plotly_chart")[0]) == 8
