"""Image generation runs: the same prompt on up to four deployments at once, kept in the session's gallery.

One run is one trace (`tracing.action("image generation")`); each deployment's call runs in its own thread with
`tracing.carry`, so its spans join that trace. Clients are taken on the script thread (Streamlit's caches live
there). The gallery keeps the newest runs first and drops the oldest past MAX_RUNS, so a long session does not hold
every image it ever drew (MAX_RUNS runs, MAX_IMAGES images).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from app import run_slots, state
from services import tracing
from services.config import Deployment
from services.errors import ModalityNotSupportedError

GALLERY_KEY = "imggen_gallery"
NO_GENERATION_KEY = "imggen_no_generation"  # deployment name -> why it has no image generation (learned here)
GENERATED_OK_KEY = "imggen_generated_ok"  # deployment names that drew an image in this session
MAX_DEPLOYMENTS = 4
MAX_RUNS = 12
MAX_IMAGES = 48  # beyond this many images the oldest runs go (a gpt-image PNG is a few megabytes)
DROPPED_KEY = "imggen_dropped_runs"


@dataclass(frozen=True)
class GalleryImage:
    """One drawn image as the gallery keeps it: PNG bytes (for display and download) and what is said about it."""

    index: int
    png: bytes = field(repr=False)
    size: str | None
    source_format: str | None
    revised_prompt: str | None


@dataclass(frozen=True)
class GalleryEntry:
    """What one deployment gave for one run: its images, or the error it answered, and how long it took."""

    deployment: str
    params: dict[str, Any]
    images: tuple[GalleryImage, ...] = ()
    error: Exception | None = None
    elapsed_s: float = 0.0
    model: str | None = None
    output_tokens: int | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class GalleryRun:
    """One press of Generate: the prompt, when, and one entry per deployment in the order they were picked."""

    run_id: str
    prompt: str
    created: float
    entries: tuple[GalleryEntry, ...]


@dataclass(frozen=True)
class GenJob:
    """One deployment's part of a run: where, and the parameters it is sent."""

    deployment: Deployment
    params: dict[str, Any]


def gallery() -> list[GalleryRun]:
    """The session's runs, newest first."""
    return st.session_state.setdefault(GALLERY_KEY, [])


def clear_gallery() -> None:
    st.session_state[GALLERY_KEY] = []
    st.session_state[DROPPED_KEY] = 0


def learned_without_generation() -> dict[str, str]:
    """Deployments that answered image generation with "not offered" in this session, with the reason."""
    return st.session_state.setdefault(NO_GENERATION_KEY, {})


def generated_here() -> set[str]:
    """Deployments that drew at least one image in this session."""
    return st.session_state.setdefault(GENERATED_OK_KEY, set())


def _entry(client: Any, deployment: str, prompt: str, params: dict[str, Any]) -> GalleryEntry:
    """Generate on one deployment (in a worker thread); every failure becomes the entry's error, never a raise."""
    started = time.perf_counter()
    try:
        result = client.generate_images(prompt, **params)
    except Exception as exc:  # every failure is shown as a card, never a traceback
        trace_id = getattr(exc, "trace_id", None)
        return GalleryEntry(deployment, params, error=exc, elapsed_s=time.perf_counter() - started, trace_id=trace_id)
    images = tuple(
        GalleryImage(image.index, image.png(), image.size, image.format, image.revised_prompt)
        for image in result.images
    )
    usage = result.usage
    return GalleryEntry(
        deployment,
        params,
        images,
        elapsed_s=result.metrics.total_s,
        model=result.model,
        output_tokens=usage.completion_tokens if usage is not None and usage.completion_tokens else None,
        trace_id=result.metrics.trace_id,
    )


def generate(prompt: str, jobs: list[GenJob]) -> GalleryRun:
    """Run the prompt on every job's deployment at once; the run goes first in the gallery."""
    clients = [state.get_client(job.deployment) for job in jobs]
    # carry() copies the context when it wraps: inside the action, so every thread's calls join its trace.
    with (
        tracing.action("image generation"),
        run_slots.released(),
        ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool,
    ):
        work = tracing.carry(_entry)
        futures = [
            pool.submit(work, client, job.deployment.name, prompt, job.params)
            for client, job in zip(clients, jobs, strict=True)
        ]
        entries = tuple(future.result() for future in futures)
    run = GalleryRun(uuid.uuid4().hex[:10], prompt, time.time(), entries)
    _learn(entries)
    runs = gallery()
    runs.insert(0, run)
    dropped = len(runs[MAX_RUNS:])
    del runs[MAX_RUNS:]
    while len(runs) > 1 and sum(len(entry.images) for kept in runs for entry in kept.entries) > MAX_IMAGES:
        runs.pop()
        dropped += 1
    st.session_state[DROPPED_KEY] = st.session_state.get(DROPPED_KEY, 0) + dropped
    return run


def dropped_runs() -> int:
    """How many of this session's runs left the gallery to keep it small."""
    return int(st.session_state.get(DROPPED_KEY, 0))


def retry(run_id: str, deployment: Deployment, params: dict[str, Any]) -> None:
    """Generate one entry of a run again (e.g. without a refused parameter), in place."""
    runs = gallery()
    for position, run in enumerate(runs):
        if run.run_id != run_id:
            continue
        fresh = generate_one(run.prompt, GenJob(deployment, params))
        entries = tuple(fresh if entry.deployment == deployment.name else entry for entry in run.entries)
        runs[position] = replace(run, entries=entries)
        return


def generate_one(prompt: str, job: GenJob) -> GalleryEntry:
    """One deployment alone, as its own trace."""
    client = state.get_client(job.deployment)
    with tracing.action("image generation"), run_slots.released():
        entry = _entry(client, job.deployment.name, prompt, job.params)
    _learn((entry,))
    return entry


def _learn(entries: tuple[GalleryEntry, ...]) -> None:
    """What the answers taught about each deployment: it draws images, or it offers no image generation."""
    for entry in entries:
        if isinstance(entry.error, ModalityNotSupportedError):
            learned_without_generation()[entry.deployment] = entry.error.message
        elif entry.error is None:
            learned_without_generation().pop(entry.deployment, None)
            generated_here().add(entry.deployment)
