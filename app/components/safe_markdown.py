"""Model output and imported or restored transcript text drawn as markdown that loads nothing and hides no link.

Every place that shows text the user did not type right now goes through here (services.safe_markdown rewrites it:
images become links naming their address, links show their target, raw HTML shows as text).
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from services.safe_markdown import code_span, image_hosts_from_env, safe_markdown

# Attached images are shown only from data URLs (what the chat box makes); an imported transcript may name others.
_SHOWN_IMAGE_PREFIX = "data:image/"
_URL_SHOWN_CHARS = 120


def untrusted_markdown(text: str) -> str:
    """`text` rewritten for st.markdown (images from PLAYGROUND_MARKDOWN_IMAGE_HOSTS are the only ones loaded)."""
    return safe_markdown(text, image_hosts_from_env())


def render_untrusted(text: str, target: DeltaGenerator | None = None, *, cursor: str = "") -> None:
    """Draw untrusted text as markdown into `target` (default: the current container), with `cursor` after it."""
    body = untrusted_markdown(text)
    if cursor:
        # After a closing fence the cursor needs a line of its own, or the fence would not close.
        last_line = body.rsplit("\n", 1)[-1]
        body += ("\n\n" if last_line.startswith(("```", "~~~")) else " ") + cursor
    (target if target is not None else st).markdown(body)


def render_attached_images(images: list[str], *, width: int = 160) -> None:
    """Show a message's attached images; any that is not a data URL is named, never fetched."""
    inline = [image for image in images if image.startswith(_SHOWN_IMAGE_PREFIX)]
    if inline:
        st.image(inline, width=width)
    for image in images:
        if not image.startswith(_SHOWN_IMAGE_PREFIX):
            shown = image if len(image) <= _URL_SHOWN_CHARS else image[:_URL_SHOWN_CHARS] + "…"
            st.caption(f"Attached image not loaded: {code_span(shown)}")
