"""The Streamlit entry point: page setup, the shared sidebar, and navigation over the pages."""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit runs this file as a script, so the repository root is not on sys.path by itself.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import run_slots, state  # noqa: E402
from app.auth import current_viewer, require_sign_in  # noqa: E402
from app.components import presenter, transcript_io  # noqa: E402
from app.components.sidebar import render_sidebar  # noqa: E402
from app.components.trace_links import TRACES_URL_PATH  # noqa: E402
from pages import chat, compare, embeddings, evals, images, leaderboard, models, prompts, traces  # noqa: E402
from services import tracing  # noqa: E402


def main() -> None:
    """Configure the page, draw the sidebar and run the selected page."""
    st.set_page_config(page_title="Model playground", page_icon=":material/science:", layout="wide")
    # With [auth] configured, nothing below draws until someone is signed in.
    require_sign_in()
    state.keep_widget_state()
    # Before the sidebar and the pages ask presenter.is_on(): `?present=1` switches it on, a page switch keeps it.
    presenter.sync_with_url()
    backstage = presenter.backstage_visibility()
    chat_page = st.Page(chat.render, title="Chat", icon=":material/chat:", url_path="chat")

    def open_chat() -> None:
        """Forward the root URL to the chat page."""
        # A shared link to the root, such as `/?c=<id>`, keeps its query parameters.
        st.switch_page(chat_page, query_params=st.query_params.to_dict())

    # Streamlit serves the default page at "/", so a hidden default forwards there to "/chat".
    home = st.Page(open_chat, title="Chat", url_path="home", default=True, visibility="hidden")
    navigation = st.navigation(
        [
            home,
            chat_page,
            st.Page(compare.render, title="Compare", icon=":material/compare_arrows:", url_path="compare"),
            st.Page(embeddings.render, title="Embeddings", icon=":material/scatter_plot:", url_path="embeddings"),
            st.Page(images.render, title="Images", icon=":material/image:", url_path="images"),
            st.Page(
                prompts.render,
                title="Prompts",
                icon=":material/description:",
                url_path="prompts",
                visibility=backstage,
            ),
            st.Page(
                evals.render, title="Evaluations", icon=":material/checklist:", url_path="evals", visibility=backstage
            ),
            st.Page(
                leaderboard.render, title="Leaderboard", icon=":material/leaderboard:", url_path=leaderboard.URL_PATH
            ),
            st.Page(models.render, title="Models", icon=":material/info:", url_path="models", visibility=backstage),
            st.Page(
                traces.render,
                title="Traces",
                icon=":material/timeline:",
                url_path=TRACES_URL_PATH,
                visibility=backstage,
            ),
        ],
        position=presenter.nav_position(),
    )
    if navigation.url_path == chat_page.url_path and state.selected_deployment() is not None:
        # Before the sidebar's picker is drawn: a reload or a shared link (`?c=`) brings back the conversation
        # and picks the deployment it was held with.
        transcript_io.restore_from_url()
    # Calls made while this page draws (and in the threads it starts) are recorded as made on it.
    tracing.set_page(navigation.url_path or "chat")
    # ... and as made by who is signed in (None with sign-in off), so each user's Traces page shows their own.
    tracing.set_owner(current_viewer().owner)
    render_sidebar()
    presenter.render_stage()
    navigation.run()


with run_slots.page_run():
    main()
