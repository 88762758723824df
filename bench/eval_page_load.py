"""Evaluations page at scale, in a real browser: a 1,000-row x 3-deployment run driven through the page.

What a user does: open the Evaluations page in headless Chromium, type a template, upload a 1,000-row CSV of
questions of mixed length (3 to 60 words), pick three deployments, add a "contains" evaluator and press Run. The
three deployments are the fault server answering every call after DELAY_S with a 5-to-80-word answer, so the run's
own cost shows, not a model's. While the run goes on and after it ends, the script samples:
- the browser's responsiveness: the lag of a 50 ms timer on the page's main thread (p95 and max) and long tasks
  (> 50 ms, from a PerformanceObserver) in the windows of the run when the page is left alone, next to the same page
  before Run was pressed; and how long a click on another results tab takes to show it during the run, next to the
  same clicks once the run has ended (the peers, measured in the same run);
- memory: the app process's resident set (psutil) before the upload, before Run, at its peak during the run and at
  the end, and the page's JS heap and DOM size (Chromium's performance.memory);
- the results matrix after the run: how many grid rows the page drew (it pages; 3,000 cells are never drawn at once).

Run: `.venv/bin/python bench/eval_page_load.py [--rows 1000] [--delay 0.1]`. Exits non-zero when the run does not
finish or a cell is missing. Figures from this machine are kept in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.words import FUNCTION_WORDS  # noqa: E402
from services.config import LOCAL_API_VERSION  # noqa: E402
from services.store.evals import EvalStore  # noqa: E402
from tests.fixtures.app_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    fill_and_submit,
    pick_option,
    run_app_server,
    toml_deployment,
    wait_for_app,
    wait_until_idle,
)
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, start_in_thread  # noqa: E402

NAMES = ("model-a", "model-b", "model-c")
RUN_TIMEOUT_S = 900.0
WINDOW_S = 5.0
WORDS = list(FUNCTION_WORDS)

# A 50 ms timer's lag and every long task, recorded by the page itself from the moment this is injected.
PROBE = """() => {
  if (window.__probe) return;
  const probe = window.__probe = {lags: [], longTasks: []};
  let expected = performance.now() + 50;
  setInterval(() => { const now = performance.now(); probe.lags.push(now - expected); expected = now + 50; }, 50);
  new PerformanceObserver(list => { for (const e of list.getEntries()) probe.longTasks.push(e.duration); })
    .observe({entryTypes: ['longtask']});
}"""
TAKE = """() => { const p = window.__probe; const out = {lags: p.lags, longTasks: p.longTasks};
  p.lags = []; p.longTasks = []; return out; }"""
PAGE_FIGURES = """() => ({heap: performance.memory ? performance.memory.usedJSHeapSize : null,
  nodes: document.getElementsByTagName('*').length})"""


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


def dataset(rows: int, rng: random.Random) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["question", "expected"])
    for index in range(rows):
        writer.writerow([f"Q{index}: {sentence(rng, 3, 60)}?", rng.choice(WORDS)])
    return out.getvalue()


def answers(rng: random.Random, delay: float) -> list[Reply]:
    """Twenty answers of 5 to 80 words, played in turn (the fault server repeats the last one after that)."""
    replies = []
    for _ in range(20):
        words = sentence(rng, 5, 80).split()
        pieces = [" ".join(words[i : i + 4]) + " " for i in range(0, len(words), 4)]
        replies.append(Reply(sse=chat_chunks(pieces), first_byte_delay=delay))
    return replies


class MemorySampler(threading.Thread):
    """The app process's resident set, every 0.25 s, until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.25):
            self.samples.append(self.process.memory_info().rss)


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def lag_figures(taken: dict[str, list[float]]) -> tuple[float, float, int, float]:
    """p95 and max timer lag (ms), the number of long tasks and their longest (ms)."""
    lags = sorted(max(0.0, lag) for lag in taken["lags"]) or [0.0]
    p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
    long_tasks = taken["longTasks"]
    return p95, lags[-1], len(long_tasks), max(long_tasks, default=0.0)


def tab_click_ms(page: Any, tab: str) -> float:
    """Click a tab of the page's own tab bar and time until its panel shows."""
    started = time.perf_counter()
    # .first: while a rerun redraws, Streamlit keeps the old tab bar (faded) next to the new one for a moment.
    page.get_by_role("tab", name=tab).first.click()
    page.locator("[role=tabpanel]:not([hidden])").first.wait_for()
    page.get_by_role("tab", name=tab, selected=True).first.wait_for()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each fake answer starts")
    args = parser.parse_args()
    rng = random.Random(7)
    fault = FaultServer()
    running = start_in_thread(fault)
    fault.url = running.url
    scenarios = [fault.scenario(*answers(rng, args.delay)) for _ in NAMES]
    config = "".join(
        toml_deployment(name, scenario.endpoint, api_version=LOCAL_API_VERSION)
        for name, scenario in zip(NAMES, scenarios, strict=True)
    )
    data_path = Path(tempfile.mkdtemp(prefix="bench-evals-page-")) / "questions.csv"
    data_path.write_text(dataset(args.rows, rng))
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    with run_app_server(config) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        memory = MemorySampler(server.process.pid)
        memory.start()
        page.goto(f"{server.url}/evals")
        wait_for_app(page)
        try:
            page.get_by_role("heading", name="Evaluations").wait_for()
        except Exception:
            page.screenshot(path="/tmp/eval_page_load.png", full_page=True)
            print(server.log()[-3000:])
            raise
        rss_open = psutil.Process(server.process.pid).memory_info().rss

        fill_and_submit(page, ".st-key-evf_template_user textarea", "Answer briefly: {{question}}")
        page.locator(".st-key-evals_upload input[type=file]").set_input_files(str(data_path))
        wait_until_idle(page)
        page.get_by_text(f"{args.rows} rows · columns: question, expected").wait_for()
        for name in NAMES:
            pick_option(page, "evf_deployments", name)
            page.keyboard.press("Escape")
        fill_and_submit(page, ".st-key-evf_new_name input", "names the word")
        fill_and_submit(page, ".st-key-evf_new_contains_text input", "{{expected}}")
        page.locator(".st-key-evals_add_evaluator button").click()
        wait_until_idle(page)

        # The same page, idle, for the peer figures.
        page.evaluate(PROBE)
        page.wait_for_timeout(5000)
        idle = lag_figures(page.evaluate(TAKE))
        idle_figures = page.evaluate(PAGE_FIGURES)
        rss_before = psutil.Process(server.process.pid).memory_info().rss

        page.locator(".st-key-evals_run button").click()
        started = time.monotonic()
        # Windows of WINDOW_S in turn: one left alone (the run's own cost to the page), one with a tab click a second.
        quiet: dict[str, list[float]] = {"lags": [], "longTasks": []}
        clicks: list[float] = []
        main_text = page.locator("[data-testid=stMainBlockContainer]")
        window = 0
        while "· finished ·" not in main_text.inner_text():
            if time.monotonic() - started > RUN_TIMEOUT_S:
                failures.append("the run did not finish")
                break
            window_end = time.monotonic() + WINDOW_S
            page.evaluate(TAKE)  # what came before this window is not counted
            while time.monotonic() < window_end and "· finished ·" not in main_text.inner_text():
                page.wait_for_timeout(1000)
                if window % 2 and page.get_by_role("tab", name="Summary").count():
                    clicks.append(tab_click_ms(page, "Summary" if len(clicks) % 2 else "Rows × deployments"))
            if window % 2 == 0:
                for name, values in page.evaluate(TAKE).items():
                    quiet[name] += values
            window += 1
        wall = time.monotonic() - started
        running_lag = lag_figures(quiet)
        wait_until_idle(page)
        # The peer for the clicks: the same clicks on the same page once the run is over.
        idle_clicks = [tab_click_ms(page, "Summary" if i % 2 else "Rows × deployments") for i in range(10)]
        wait_until_idle(page)
        memory.stopping.set()
        memory.join()
        rss_end = psutil.Process(server.process.pid).memory_info().rss
        page.get_by_role("tab", name="Rows × deployments").first.click()
        wait_until_idle(page)
        grid_rows = page.locator("[data-testid=stDataFrame] table[role=grid] tbody tr").count()
        end_figures = page.evaluate(PAGE_FIGURES)
        browser.close()

        stores = list((Path(server.config_path).parent / "data").glob("evals.sqlite"))
        store = EvalStore(stores[0]) if stores else None
        run = store.runs_for()[0] if store else None
        cells = store.count_cells(run.id) if store and run else 0
    running.stop()

    expected = args.rows * len(NAMES)
    if cells != expected:
        failures.append(f"{cells} cells stored, expected {expected}")
    ideal = args.rows * len(NAMES) * args.delay / (4 * len(NAMES))
    print(f"Evaluations page: {args.rows:,} rows x {len(NAMES)} deployments, answers after {args.delay} s each")
    print(f"  run wall time            {wall:.1f} s (ideal at 4 calls per deployment {ideal:.1f} s, "
          f"{wall / ideal:.2f}x)")  # fmt: skip
    print(f"  cells stored             {cells:,} of {expected:,}")
    seconds = len(quiet["lags"]) * 0.05
    print(f"  timer lag p95 / max      idle {idle[0]:.0f} / {idle[1]:.0f} ms, running (left alone) "
          f"{running_lag[0]:.0f} / {running_lag[1]:.0f} ms")  # fmt: skip
    print(f"  long tasks (> 50 ms)     idle {idle[2]} in 5 s (longest {idle[3]:.0f} ms), running (left alone) "
          f"{running_lag[2]} in {seconds:.0f} s (longest {running_lag[3]:.0f} ms)")  # fmt: skip
    if clicks:
        during, after = statistics.median(clicks), statistics.median(idle_clicks)
        print(f"  tab click to shown       during the run median {during:.0f} ms (max {max(clicks):.0f}, "
              f"{len(clicks)} clicks); after it {after:.0f} ms (max {max(idle_clicks):.0f}); "
              f"ratio {during / after:.2f}x")  # fmt: skip
    peak = max(memory.samples, default=rss_end)
    print(f"  app RSS                  open {mib(rss_open)}, before Run {mib(rss_before)}, peak {mib(peak)}, "
          f"end {mib(rss_end)} (peak / before Run {peak / rss_before:.2f}x)")  # fmt: skip
    heap = [figures["heap"] for figures in (idle_figures, end_figures)]
    if all(heap):
        print(f"  page JS heap             before Run {mib(heap[0])}, after {mib(heap[1])} ({heap[1] / heap[0]:.2f}x)")
    print(f"  page DOM elements        before Run {idle_figures['nodes']:,}, after {end_figures['nodes']:,}")
    print(f"  matrix grid rows drawn   {grid_rows} of {args.rows:,} rows")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
