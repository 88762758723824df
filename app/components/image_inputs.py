"""Where the images come from: uploads, generated samples, limits, and an optional text per image."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app.components import kept_uploads
from services.images import (
    ImageLimits,
    ImageRejectedError,
    PreparedImage,
    limits_from_env,
    prepare_image,
    sample_images,
)

UPLOAD_KEY = "images_upload"
# The uploader's files (kept as they change) and those from before it was last drawn afresh.
UPLOAD_CURRENT_KEY = "images_upload_current"
UPLOAD_EARLIER_KEY = "images_upload_earlier"
SAMPLES_KEY = "images_use_samples"
TEXTS_KEY = "images_texts"
# Images the Generate tab sent here ("Embed these"): (file name, PNG bytes, the deployment that drew it).
GENERATED_KEY = "images_generated"


@dataclass(frozen=True)
class ImageItem:
    """One image ready to embed, with the text typed for it (empty: none) and its family when it is a sample."""

    image: PreparedImage
    text: str = ""
    family: str = ""


@st.cache_data(show_spinner=False, max_entries=256)
def _prepare_cached(name: str, data: bytes, max_bytes: int, max_side: int) -> PreparedImage | str:
    # Exceptions do not survive st.cache_data's pickling, so a rejection is cached as its reason.
    try:
        return prepare_image(name, data, ImageLimits(max_bytes=max_bytes, max_side=max_side))
    except ImageRejectedError as err:
        return err.reason


def image_limits() -> ImageLimits:
    """Limits from the environment (defaults 20 MB and 512 px), adjustable on the page."""
    try:
        defaults = limits_from_env(os.environ)
    except ValueError as exc:
        st.warning(f"{exc}; using the defaults.")
        defaults = ImageLimits()
    with st.expander("Limits", expanded=False):
        left, right = st.columns(2)
        max_mb = left.number_input(
            "Largest file (MB)", min_value=0.1, max_value=200.0, value=round(defaults.max_bytes / 2**20, 1), step=1.0
        )
        max_side = right.number_input(
            "Downscale to longest side (px)", min_value=32, max_value=4096, value=defaults.max_side, step=32
        )
        # Streamlit refuses larger uploads before this page sees them (server.maxUploadSize, in MB).
        server_mb = float(st.get_option("server.maxUploadSize"))
        if max_mb > server_mb:
            st.caption(
                f"This server accepts uploads up to {server_mb:g} MB, so larger files are refused before this limit "
                "applies: start it with `STREAMLIT_SERVER_MAX_UPLOAD_SIZE` set higher (`make run` does so from "
                "`PLAYGROUND_IMAGE_MAX_MB`)."
            )
    return ImageLimits(max_bytes=int(max_mb * 2**20), max_side=int(max_side))


def send_generated(items: list[tuple[str, bytes, str]]) -> None:
    """Put generated images (name, bytes, deployment) among the images to embed, in place of earlier ones."""
    st.session_state[GENERATED_KEY] = list(items)


def _generated_sources() -> list[tuple[str, bytes, str]]:
    """The generated images sent here, with a line saying so and a way to take them out again."""
    generated = st.session_state.get(GENERATED_KEY) or []
    if not generated:
        return []
    line = st.container(horizontal=True, vertical_alignment="center")
    painters = ", ".join(sorted({family for _, _, family in generated}))
    line.caption(f"{len(generated)} generated image(s) from the Generate tab ({painters}) are included.")
    if line.button("Remove generated images", key="images_generated_remove"):
        st.session_state.pop(GENERATED_KEY, None)
        st.rerun()
    return list(generated)


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate = f"{name} ({counter})"
        counter += 1
    taken.add(candidate)
    return candidate


def _earlier_uploads(current: list[tuple[str, bytes, str]]) -> list[tuple[str, bytes, str]]:
    """Images uploaded before a visit to another page or tab, with a line saying so and a way to remove them."""
    earlier = [f for f in kept_uploads.kept_many(UPLOAD_EARLIER_KEY) if (f.name, f.data, "") not in current]
    if not earlier:
        return []
    line = st.container(horizontal=True, vertical_alignment="center", key="images_kept_uploads")
    names = ", ".join(f.name for f in earlier[:5]) + (" …" if len(earlier) > 5 else "")
    line.markdown(f"{len(earlier)} image(s) uploaded before are included: {names}.")
    if line.button("Remove uploaded images", key="images_kept_remove", icon=":material/close:"):
        kept_uploads.forget(UPLOAD_EARLIER_KEY)
        st.rerun()
    return [(f.name, f.data, "") for f in earlier]


def collect_images(limits: ImageLimits) -> list[ImageItem]:
    """Show the uploader, the samples switch and the text table; name every file that cannot be used."""
    kept_uploads.carry_over(UPLOAD_KEY, UPLOAD_CURRENT_KEY, UPLOAD_EARLIER_KEY)
    uploads = st.file_uploader(
        "Images (PNG, JPEG, WebP or GIF; a GIF sends its first frame)",
        accept_multiple_files=True,
        key=UPLOAD_KEY,
        help="Files are checked by their content, not their extension.",
        on_change=kept_uploads.remember_many,
        args=(UPLOAD_KEY, UPLOAD_CURRENT_KEY),
    )
    st.caption(
        f"Up to {limits.max_bytes / 2**20:.1f} MB per file, downscaled to {limits.max_side} px on the longest side "
        "before sending (change both under Limits)."
    )
    use_samples = st.toggle("Use sample images", key=SAMPLES_KEY, help="Generated shapes in four families.")
    sources: list[tuple[str, bytes, str]] = [(f.name, f.getvalue(), "") for f in uploads or []]
    unkept = len(sources) - len(st.session_state.get(UPLOAD_CURRENT_KEY) or [])
    if unkept > 0:
        st.caption(f"{unkept} of these file(s) are past what is kept in the session and go when you leave the page.")
    sources += _earlier_uploads(sources)
    if use_samples:
        sources += [(s.name, s.data, s.family) for s in sample_images()]
    sources += _generated_sources()
    items: list[ImageItem] = []
    taken: set[str] = set()
    for name, data, family in sources:
        unique = _unique(name, taken)
        prepared = _prepare_cached(unique, data, limits.max_bytes, limits.max_side)
        if isinstance(prepared, str):
            st.error(f"**{unique}** is left out: {prepared}")
            continue
        items.append(ImageItem(prepared, family=family))
    if not items:
        return []
    return _with_texts(items)


def _with_texts(items: list[ImageItem]) -> list[ImageItem]:
    table = pd.DataFrame(
        {
            "image": [item.image.thumbnail_url for item in items],
            "name": [item.image.name for item in items],
            "size": [_size_text(item.image) for item in items],
            "text": [""] * len(items),
        }
    )
    edited = st.data_editor(
        table,
        key=f"{TEXTS_KEY}_{zlib.crc32(chr(0).join(item.image.name for item in items).encode())}",
        hide_index=True,
        width="stretch",
        disabled=["image", "name", "size"],
        column_config={
            "image": st.column_config.ImageColumn("image", width="small"),
            "text": st.column_config.TextColumn(
                "text (optional)", help="Sent with the image, if the model takes text."
            ),
        },
    )
    texts = [str(value or "").strip() for value in edited["text"].tolist()]
    return [ImageItem(item.image, text, item.family) for item, text in zip(items, texts, strict=True)]


def _size_text(image: PreparedImage) -> str:
    sent = f"{image.width}×{image.height}"
    if image.downscaled:
        return f"{image.source_size[0]}×{image.source_size[1]} → {sent}"
    return sent
