"""Measure the resident memory the Kubernetes manifests' requests and limits are sized from (deploy/README.md).

Starts the embedded endpoint and the app on free 127.0.0.1 ports the way the manifests run them (two processes, the
app pointed at the endpoint by PLAYGROUND_LOCAL_ENDPOINT), then opens browser sessions in Debian's chromium, one
after another, each sending one chat message and waiting for the whole answer; a last session embeds 500 texts,
draws them with UMAP and opens every other page. After each step it prints the RSS and the peak RSS (VmRSS and VmHWM
from /proc/<pid>/status; VmRSS is what `ps -o rss` shows) of both processes and the CPU seconds each has used.
Loopback only; it stops both processes when done.

Run: `.venv/bin/python deploy/measure_memory.py [--sessions N] [--home DIR] [--strace PREFIX]`. HOME is a fresh
folder unless given (the files that land there are listed at the end). `--strace` runs both servers under strace
and keeps their file calls (opens, mkdir, rename, unlink) in PREFIX.app and PREFIX.endpoint: with the code mounted
read-only, they show what the processes write at run time (deploy/README.md says how).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.app_server import CHROMIUM, CHROMIUM_ARGS, wait_for_app, wait_until_idle  # noqa: E402
from tests.fixtures.local_endpoint import free_port, stop_process  # noqa: E402

PROMPT = "Write three sentences about lighthouses."


def status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the process in KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def report(step: str, processes: dict[str, int]) -> None:
    """One line per process: RSS, peak RSS (MiB) and CPU seconds so far."""
    for name, pid in processes.items():
        rss, peak = status_kib(pid)
        cpu = cpu_seconds(pid)
        print(f"{step:<32} {name:<9} rss {rss / 1024:7.1f} MiB  peak {peak / 1024:7.1f} MiB  cpu {cpu:6.1f} s")


def children(pid: int) -> list[int]:
    """The process's child pids (none once it has exited)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def stop(process: subprocess.Popen[bytes], traced: bool) -> None:
    """Stop a server; under strace, the traced server first (ending strace alone would leave it running)."""
    if traced:
        for pid in children(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    stop_process(process)


def server_pid(process: subprocess.Popen[bytes], traced: bool) -> int:
    """The server's own pid: the process itself, or strace's child when it runs under strace."""
    if not traced:
        return process.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # strace forks short-lived children of its own to probe ptrace features: wait for the one running python.
        for pid in children(process.pid):
            try:
                if b"-m\0" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return int(pid)
            except FileNotFoundError:
                continue
        time.sleep(0.05)
    raise RuntimeError(f"strace {process.pid} started no server")


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    """Poll `url` until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy after {timeout_s:.0f} s")


def chat_once(browser: object, app_url: str) -> object:
    """A new browser context (a new Streamlit session) on the chat page, one message, the whole answer."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{app_url}/chat")
    wait_for_app(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(PROMPT)
    box.press("Enter")
    page.locator(".st-key-chat_regenerate").wait_for()
    wait_until_idle(page)
    return context


def embed_and_visit(browser: object, app_url: str, count: int = 500) -> object:
    """A session that embeds `count` texts with the embedded MiniLM (map drawn), then opens every other page."""
    words = ["river", "market", "engine", "garden", "planet", "violin", "harbour", "recipe", "signal", "forest"]
    texts = [f"note {i} {words[i % 10]} {words[(i // 10) % 10]} {words[(i // 100) % 10]}" for i in range(count)]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(f"{app_url}/embeddings")
    wait_for_app(page)
    page.get_by_text("Upload a file", exact=True).click()
    wait_until_idle(page)
    csv = "id,text\n" + "\n".join(f"{i},{text}" for i, text in enumerate(texts))
    upload = {"name": "texts.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    page.locator('input[type="file"]').set_input_files(upload)
    wait_until_idle(page)
    page.get_by_role("button", name=f"Embed {count:,} texts").click()
    page.get_by_text(f"{count:,} of {count:,} texts embedded").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_until_idle(page, timeout_s=180)
    # UMAP is the heaviest thing a page does (numba compiles it once per process).
    page.get_by_text("UMAP", exact=True).click()
    wait_until_idle(page, timeout_s=180)
    page.locator(".js-plotly-plot").first.wait_for()
    for path in ("compare", "images", "prompts", "models", "traces"):
        page.goto(f"{app_url}/{path}")
        wait_for_app(page)
    return context


def main(sessions: int, home: Path | None, trace_prefix: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="measure-memory-"))
    home = home or workdir / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_", "AZUREAI_", "LOCAL_ENDPOINT_"))}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "HOME": str(home),
            "PLAYGROUND_DATA_DIR": str(workdir / "data"),
            "PLAYGROUND_CONFIG": str(workdir / "deployments.toml"),
            # The manifests' values: the endpoint's threads match its CPU limit, the app's script slots its own.
            "LOCAL_ENDPOINT_THREADS": "2",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    (workdir / "deployments.toml").write_text("# every deployment comes from PLAYGROUND_LOCAL_ENDPOINT\n")
    endpoint_port, app_port = free_port(), free_port()
    env["PLAYGROUND_LOCAL_ENDPOINT"] = f"http://127.0.0.1:{endpoint_port}"
    python = sys.executable

    def wrap(name: str, command: list[str]) -> list[str]:
        if trace_prefix is None:
            return command
        calls = "openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,symlink,link,chmod,utimensat"
        return ["strace", "-f", "-qq", "-e", f"trace={calls}", "-o", f"{trace_prefix}.{name}", *command]

    with (workdir / "endpoint.log").open("wb") as log:
        endpoint = subprocess.Popen(
            wrap("endpoint", [python, "-m", "local_endpoint", "--host", "127.0.0.1", "--port", str(endpoint_port)]),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app_command = [python, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true"]
    app_command += ["--server.port", str(app_port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    with (workdir / "app.log").open("wb") as log:
        app = subprocess.Popen(wrap("app", app_command), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    traced = trace_prefix is not None
    try:
        processes = {"app": server_pid(app, traced), "endpoint": server_pid(endpoint, traced)}
        wait_healthy(f"http://127.0.0.1:{endpoint_port}/health?ready=1", endpoint)
        app_url = f"http://127.0.0.1:{app_port}"
        wait_healthy(f"{app_url}/_stcore/health", app)
        report("started, no session", processes)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            contexts = []
            for n in range(1, sessions + 1):
                started = time.monotonic()
                contexts.append(chat_once(browser, app_url))
                report(f"{n} session(s), chat {time.monotonic() - started:4.1f} s", processes)
            started = time.monotonic()
            contexts.append(embed_and_visit(browser, app_url))
            report(f"+ embed 500, all pages {time.monotonic() - started:3.0f} s", processes)
            for context in contexts:
                context.close()  # type: ignore[attr-defined]
            browser.close()
        time.sleep(2)
        report("sessions closed", processes)
        written: dict[str, list[int]] = {}
        for path in home.rglob("*"):
            if path.is_file():
                count_size = written.setdefault("/".join(path.relative_to(home).parts[:2]), [0, 0])
                count_size[0] += 1
                count_size[1] += path.stat().st_size
        print(f"files under HOME ({home}):", "none" if not written else "")
        for folder, (count, size) in sorted(written.items()):
            print(f"  ~/{folder}: {count} files, {size / 1024:.0f} KiB")
    finally:
        stop(app, traced)
        stop(endpoint, traced)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5, help="browser sessions that each send one chat message")
    parser.add_argument("--home", type=Path, help="HOME for both servers (default: a fresh temporary folder)")
    parser.add_argument("--strace", metavar="PREFIX", help="run the servers under strace, file calls to PREFIX.*")
    args = parser.parse_args()
    main(args.sessions, args.home, args.strace)
