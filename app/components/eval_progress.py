"""An opened run's state: live progress (done/total, errors, failed checks, time left) with Cancel while this process
runs it, and Resume for a run whose runner stopped (a restart or a kill) or that was cancelled."""

from __future__ import annotations

import streamlit as st

from app.components import eval_jobs
from app.components.eval_deployments import run_deployments, run_guards
from services.eval_build import build_evaluators
from services.eval_model import EvalError
from services.eval_run import EvalProgress, resume
from services.safe_markdown import escape_markdown
from services.store.evals import RunRecord

POLL_S = 1.0
RESUMABLE = ("interrupted", "cancelled")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left: estimating…"
    if seconds < 60:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


def progress_text(progress: EvalProgress) -> str:
    """One line: cells done of total, errors, failed checks, and the time left while running."""
    text = f"{progress.done} of {progress.total} cells · {progress.errors} errors · {progress.failures} failed checks"
    return f"{text} · {_eta(progress.eta_s)}" if progress.status == "running" else f"{text} · {progress.status}"


@st.fragment(run_every=POLL_S)
def _live(run_id: str) -> None:
    """Redrawn every POLL_S seconds on its own (the rest of the page stays); the whole page reruns when it ends."""
    runner = eval_jobs.runner_for(run_id)
    if runner is None:
        return
    progress = runner.progress()
    share = progress.done / progress.total if progress.total else 1.0
    st.progress(min(1.0, share), text=progress_text(progress))
    if progress.status != "running":
        st.rerun(scope="app")
    st.button("Cancel", key=f"evals_cancel_{run_id}", icon=":material/stop:", on_click=runner.cancel,
              help="Send no new request; what finished is kept.")  # fmt: skip


def _resume(record: RunRecord) -> str | None:
    """Start the run again on the configured deployments; the reason it cannot, or None."""
    deployments = run_deployments()
    guards = run_guards(deployments)
    try:
        evaluators = build_evaluators(record.evaluators, deployments, guards=guards)
        runner = resume(eval_jobs.eval_store(), record.id, deployments, evaluators, guards=guards)
    except (EvalError, ValueError) as err:
        return str(err)
    eval_jobs.start(runner, evaluators)
    return None


def render_progress(record: RunRecord) -> None:
    """Draw how far the run is, with Cancel while it runs here, or Resume when it stopped before the end."""
    if eval_jobs.is_running(record.id):
        _live(record.id)
        return
    if record.status == "running":  # another process (replica) runs it: its counts are in the store
        st.progress(min(1.0, record.cells_done / max(1, record.total_cells)), text="running in another process")
        st.button("Refresh", key="evals_refresh", icon=":material/refresh:")
        return
    if record.status in RESUMABLE and record.cells_done < record.total_cells:
        left = record.total_cells - record.cells_done
        st.warning(
            f"This run is {record.status}: {record.cells_done} of {record.total_cells} cells are done; resuming "
            f"sends the {left} left.",
            icon=":material/pause_circle:",
        )
        if st.button("Resume", key="evals_resume", icon=":material/play_arrow:"):
            problem = _resume(record)
            if problem is None:
                st.rerun()
            st.error(escape_markdown(problem), icon=":material/error:")
