"""The probe and the deployment check against the embedded endpoint's real deployments."""

from __future__ import annotations

from services.capabilities import unsupported_params
from services.config import Deployment
from services.probe import Status, check_all, probe_all


def test_probe_maps_each_embedded_deployment_to_what_it_serves(local_deployments: dict[str, Deployment]) -> None:
    reports = probe_all(local_deployments.values())
    chat, text, image = (reports[n] for n in ("smollm2-135m-instruct", "all-minilm-l6-v2", "image-descriptor"))

    assert chat.status("chat") is Status.SUPPORTED
    assert chat.status("streaming") is Status.SUPPORTED
    assert chat.status("seed") is Status.SUPPORTED
    assert chat.status("stop") is Status.SUPPORTED
    assert chat.status("embeddings") is Status.NOT_SUPPORTED
    assert chat.status("text_completion") is Status.SUPPORTED  # the embedded endpoint's /completions
    # The small chat model has no tool calling: a real 422 naming the parameter.
    assert chat.status("tools") is Status.NOT_SUPPORTED
    assert chat.results["tools"].param == "tools"
    assert "tools" in unsupported_params(chat)

    assert text.status("embeddings") is Status.SUPPORTED
    assert reports["paraphrase-minilm-l3-v2"].status("embeddings") is Status.SUPPORTED
    assert text.status("chat") is Status.NOT_SUPPORTED
    assert text.status("image_embeddings") is Status.NOT_SUPPORTED
    assert text.status("text_completion") is Status.NOT_SUPPORTED
    assert image.status("text_completion") is Status.NOT_SUPPORTED
    assert "/completions" in image.results["text_completion"].detail

    assert image.status("image_embeddings") is Status.SUPPORTED
    assert image.status("embeddings") is Status.NOT_SUPPORTED
    assert "/embeddings" in image.results["embeddings"].detail

    for report in reports.values():
        assert Status.UNKNOWN not in {r.status for r in report.results.values()}, report.results


def test_check_reads_info_of_every_embedded_deployment(local_deployments: dict[str, Deployment]) -> None:
    statuses = check_all(local_deployments.values())
    types = {name: s.info.model_type for name, s in statuses.items() if s.info}
    assert types == {
        "smollm2-135m-instruct": "chat-completion",
        "all-minilm-l6-v2": "embeddings",
        "paraphrase-minilm-l3-v2": "embeddings",
        "image-descriptor": "image_embeddings",
    }
    assert all(s.reachable and s.round_trip_s is not None and s.error is None for s in statuses.values())
    assert {s.auth for s in statuses.values()} == {"no key"}
