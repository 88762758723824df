"""The embedded endpoint has no image generator: `/images/generations` answers as a model without the route does."""

from __future__ import annotations

import httpx
import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.errors import ModalityNotSupportedError
from services.probe import Status, probe_all
from tests.local_endpoint.conftest import API, STRICT_KEY

BODY = {"prompt": "a lighthouse at dusk", "size": "1024x1024"}


@pytest.mark.parametrize("deployment", ["smollm2-135m-instruct", "all-minilm-l6-v2", "image-descriptor"])
def test_every_serverless_deployment_answers_image_generation_with_the_route_not_served(
    local_endpoint_url: str, deployment: str
) -> None:
    answer = httpx.post(f"{local_endpoint_url}/{deployment}/images/generations?{API}", json=BODY)
    assert (answer.status_code, answer.text) == (404, "NOT FOUND")
    assert answer.headers["content-type"].startswith("text/plain")


def test_multi_model_and_openai_styles_check_the_model_first(local_endpoint_url: str) -> None:
    known = httpx.post(
        f"{local_endpoint_url}/models/images/generations?{API}", json={**BODY, "model": "image-descriptor"}
    )
    assert (known.status_code, known.text) == (404, "NOT FOUND")
    unknown = httpx.post(f"{local_endpoint_url}/v1/images/generations", json={**BODY, "model": "dall-e-3"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_model"
    missing = httpx.post(f"{local_endpoint_url}/v1/images/generations", json=BODY)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_model"


def test_the_route_checks_api_version_and_key_like_the_others(
    local_endpoint_url: str, strict_endpoint_url: str
) -> None:
    no_version = httpx.post(f"{local_endpoint_url}/smollm2-135m-instruct/images/generations", json=BODY)
    assert no_version.status_code == 400
    no_key = httpx.post(f"{strict_endpoint_url}/smollm2-135m-instruct/images/generations?{API}", json=BODY)
    assert no_key.status_code == 401
    keyed = httpx.post(
        f"{strict_endpoint_url}/smollm2-135m-instruct/images/generations?{API}",
        json=BODY,
        headers={"api-key": STRICT_KEY},
    )
    assert keyed.status_code == 404


def test_the_client_gets_modality_not_supported_and_the_probe_records_it(
    local_deployments: dict[str, Deployment],
) -> None:
    chat = local_deployments["smollm2-135m-instruct"]
    with InferenceClient(chat) as client, pytest.raises(ModalityNotSupportedError) as caught:
        client.generate_images("a lighthouse", size="1024x1024")
    assert caught.value.route == "/images/generations" and caught.value.status == 404
    reports = probe_all(local_deployments.values())
    for name, report in reports.items():
        assert report.status("image_generation") is Status.NOT_SUPPORTED, name
        assert "/images/generations" in report.results["image_generation"].detail
