"""Embeddings explorer: embed texts with one or two deployments, project and plot them, search, compare, export."""

from __future__ import annotations

import streamlit as st

from app.components import embedding_job as jobs
from app.components.embedding_compare import render_compare
from app.components.embedding_inputs import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    EmbedOptions,
    collect_dataset,
    over_limit,
    render_options,
    reset_option,
)
from app.components.embedding_picker import PickedDeployment, pick_deployments
from app.components.embedding_results import render_export, render_failures, render_heatmap, render_map
from app.components.error_card import render_error
from services import datasets
from services.datasets import DatasetError, TextDataset
from services.safe_markdown import code_span, escape_markdown

TAB_KEY = "emb_tab"


def _retry_missing() -> None:
    run = jobs.current_run()
    if run is None:
        return
    first = run.sides[0]
    job = jobs.EmbedJob(
        texts=run.texts,
        labels=run.labels,
        deployments=[side.deployment for side in run.sides],
        params=dict(first.params),
        batch_size=int(st.session_state.get("emb_batch_size", DEFAULT_BATCH_SIZE)),
        concurrency=int(st.session_state.get("emb_concurrency", DEFAULT_CONCURRENCY)),
        models=[side.model for side in run.sides],
        previous=run,
        source=run.source,
    )
    jobs.start_job(job)


def _retry_without(param: str) -> None:
    """Clear the refused option's widget and embed the same texts again without it."""
    run = jobs.current_run()
    if run is None:
        return
    reset_option(param)
    params = {name: value for name, value in run.sides[0].params.items() if name != param}
    jobs.start_job(
        jobs.EmbedJob(
            texts=run.texts,
            labels=run.labels,
            deployments=[side.deployment for side in run.sides],
            params=params,
            batch_size=int(st.session_state.get("emb_batch_size", DEFAULT_BATCH_SIZE)),
            concurrency=int(st.session_state.get("emb_concurrency", DEFAULT_CONCURRENCY)),
            models=[side.model for side in run.sides],
            source=run.source,
        )
    )


def _within_limit(dataset: TextDataset, main: PickedDeployment) -> TextDataset:
    """Warn about texts over the model's input limit; optionally leave them out."""
    limit = datasets.token_limit(main.model_name)
    long = over_limit(dataset.texts, limit) if limit else []
    if not long:
        return dataset
    first = ", ".join(f"#{i}" for i in long[:8]) + (" …" if len(long) > 8 else "")
    st.warning(
        f"{len(long):,} text(s) are longer than about {limit:,} tokens, the input limit of "
        f"{code_span(str(main.model_name))} "
        f"({first}). The model truncates them, so only their beginning counts; some services refuse them instead, "
        "and those are then reported as failed.",
        icon=":material/content_cut:",
    )
    if not st.checkbox(f"Leave out the {len(long):,} over-long text(s)", key="emb_drop_long"):
        return dataset
    keep = [i for i in range(len(dataset.texts)) if i not in set(long)]
    labels = [dataset.labels[i] for i in keep] if dataset.labels is not None else None
    return TextDataset([dataset.texts[i] for i in keep], labels, dataset.skipped_empty, dataset.source)


def _start(dataset: TextDataset, main: PickedDeployment, other: PickedDeployment | None, options: EmbedOptions) -> None:
    picked = [main] + ([other] if other is not None else [])
    job = jobs.EmbedJob(
        texts=dataset.texts,
        labels=dataset.labels,
        deployments=[p.deployment for p in picked],
        params=options.params(),
        batch_size=options.batch_size,
        concurrency=options.concurrency,
        models=[p.model_name for p in picked],
        source=dataset.source,
    )
    jobs.start_job(job)


def _inputs(main: PickedDeployment | None, other: PickedDeployment | None) -> TextDataset | None:
    """Texts, options and the Embed button (or the progress of the running job); returns the texts Embed sends."""
    found = collect_dataset()
    options = render_options()
    job = jobs.current_job()
    dataset: TextDataset | None = None
    if isinstance(found, DatasetError):
        st.error(str(found), icon=":material/error:")
    elif found is not None:
        try:
            datasets.check_size(found)
            dataset = found
        except DatasetError as err:
            st.error(str(err), icon=":material/error:")
        if found.skipped_empty:
            st.caption(f"{found.skipped_empty:,} empty line(s) or row(s) left out.")
    if dataset is not None and main is not None:
        dataset = _within_limit(dataset, main)
    count = f" {datasets.counted(len(dataset.texts))}" if dataset is not None else ""
    clicked = st.button(
        f"Embed{count}",
        type="primary",
        key="emb_embed",
        disabled=job is not None or main is None,
        icon=":material/scatter_plot:",
    )
    if clicked:
        if dataset is None:
            st.error("There are no texts to embed: paste one text per line, upload a file or use the sample.")
        elif main is not None:
            _start(dataset, main, other, options)
            job = jobs.current_job()
    if job is not None:
        jobs.render_progress(job)
    return dataset


def _named(source: str) -> str:
    return f"**{escape_markdown(source)}**" if source else "earlier texts"


def _mark_out_of_date(run: jobs.EmbeddingRun, dataset: TextDataset | None) -> None:
    """Say so when the results below were made from other texts than the ones chosen above (a new file, say)."""
    if dataset is None or (dataset.texts == run.texts and dataset.labels == run.labels):
        return
    same_texts = dataset.texts == run.texts
    what = "labels" if same_texts else "texts"
    st.warning(
        f"**Out of date:** the results below are for {_named(run.source)} ({datasets.counted(len(run.texts))}), "
        f"not the {what} chosen above ({_named(dataset.source)}, {datasets.counted(len(dataset.texts))}). "
        f"Press **Embed** to replace them.",
        icon=":material/history:",
    )


def render() -> None:
    """The embeddings page."""
    st.title("Embeddings")
    st.caption("Embed texts with any deployment, look at them in 2D or 3D, search by meaning and compare two models.")
    job = jobs.current_job()
    if job is not None and job.finished:
        jobs.collect(job)
    main, other = pick_deployments()
    dataset = _inputs(main, other)
    error = jobs.take_job_error()
    if error is not None:
        render_error(error, key="emb_job")
    run = jobs.current_run()
    if run is None:
        return
    if jobs.current_job() is None:
        _mark_out_of_date(run, dataset)
    names = " and ".join(f"**{side.deployment.name}**" for side in run.live_sides) or "no deployment"
    st.markdown(f"{int(run.usable.sum()):,} of {datasets.counted(len(run.texts))} embedded with {names}.")
    render_failures(run, _retry_missing, _retry_without)
    if not run.usable.any():
        return
    main_side = run.live_sides[0]
    # Lazy tabs: only the open one computes (a t-SNE for the Compare tab should not run while the Map is shown).
    tab_map, tab_heatmap, tab_compare, tab_export = st.tabs(
        ["Map", "Heatmap", "Compare", "Export"], key=TAB_KEY, on_change="rerun"
    )
    if tab_map.open:
        with tab_map:
            render_map(run, main_side)
    if tab_heatmap.open:
        with tab_heatmap:
            render_heatmap(run, main_side)
    if tab_compare.open:
        with tab_compare:
            if len(run.live_sides) > 1:
                render_compare(run)
            else:
                st.info(
                    "Choose a deployment under **Compare with** and embed again to compare two models on these texts."
                )
    if tab_export.open:
        with tab_export:
            render_export(run)
