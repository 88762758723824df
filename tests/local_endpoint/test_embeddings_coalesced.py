"""Over real HTTP: requests that wait while the text model is busy run together, and each gets the vectors it would
have got alone, in its own order, with its own token count."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

API = {"api-version": "2024-05-01-preview"}
DEPLOYMENT = "all-minilm-l6-v2"
# A long request that keeps the model busy while the small ones queue behind it.
BUSY = [" ".join(["the quiet river runs past an old engine house"] * 12) + f" {i}" for i in range(96)]
SMALL = [
    ["a cat sits on the mat", "the central bank raised interest rates again and again"],
    ["a kitten", "boats on a grey sea under heavy weather, far from the small harbour", "x"],
    ["one more text about rivers and mountains"],
]


async def _post(http: httpx.AsyncClient, texts: list[str]) -> httpx.Response:
    return await http.post(f"/{DEPLOYMENT}/embeddings", params=API, json={"input": texts})


async def _small_behind_busy(url: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        busy = asyncio.ensure_future(_post(http, BUSY))
        await asyncio.sleep(0.3)
        answers = await asyncio.gather(*(_post(http, texts) for texts in SMALL))
        assert (await busy).status_code == 200
        return list(answers)


def _vectors(answer: httpx.Response) -> np.ndarray:
    assert answer.status_code == 200, answer.text
    return np.array([item["embedding"] for item in answer.json()["data"]], dtype=np.float32)


def test_requests_queued_together_share_a_run_and_keep_their_own_answers(local_endpoint_url: str) -> None:
    answers = asyncio.run(_small_behind_busy(local_endpoint_url))
    runs = [dict(p.strip().split("=") for p in a.headers["x-embedding-batch"].split(";")) for a in answers]
    assert max(int(run["requests"]) for run in runs) >= 2, runs
    for texts, answer in zip(SMALL, answers, strict=True):
        alone = httpx.post(f"{local_endpoint_url}/{DEPLOYMENT}/embeddings", params=API, json={"input": texts})
        assert [item["index"] for item in answer.json()["data"]] == list(range(len(texts)))
        assert np.allclose(_vectors(answer), _vectors(alone), atol=1e-5)
        assert answer.json()["usage"] == alone.json()["usage"]
