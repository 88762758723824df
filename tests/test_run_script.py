"""scripts/run.sh (`make run`): the embedded endpoint starts only when no source configures a deployment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.fault_server import closed_port

ROOT = Path(__file__).resolve().parent.parent
SECRETS_DEPLOYMENT = '[deployments.cloud]\nendpoint = "https://example.invalid/models"\nkey = "k"\n'


def _env(tmp_path: Path, secrets: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_", "AZUREAI_", "STREAMLIT_"))}
    config = tmp_path / "deployments.toml"
    config.write_text("")  # an empty file of our own, so a developer's deployments.toml does not count
    env["PLAYGROUND_CONFIG"] = str(config)
    env["PLAYGROUND_SECRETS"] = str(tmp_path / "secrets.toml")
    if secrets is not None:
        (tmp_path / "secrets.toml").write_text(secrets)
    return env


@pytest.mark.parametrize(
    ("secrets", "code"),
    [(SECRETS_DEPLOYMENT, 0), (None, 1), ("[deployments.cloud]\nendpoint = 'ftp://x'\n", 2)],
)
def test_has_deployments_counts_the_secrets_file(tmp_path: Path, secrets: str | None, code: int) -> None:
    run = subprocess.run(
        [sys.executable, "scripts/has_deployments.py"], cwd=ROOT, env=_env(tmp_path, secrets), capture_output=True
    )
    assert run.returncode == code, run.stderr


def test_run_sh_does_not_start_the_embedded_endpoint_for_a_secrets_only_deployment(tmp_path: Path) -> None:
    env = _env(tmp_path, SECRETS_DEPLOYMENT)
    app_port, endpoint_port = closed_port(), closed_port()
    env["LOCAL_ENDPOINT_PORT"] = str(endpoint_port)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["scripts/run.sh", "--server.port", str(app_port), "--server.headless", "true"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{app_port}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the app did not start: " + log.read_text(errors="replace")[-2000:])
        assert "starting the embedded endpoint" not in log.read_text(errors="replace")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{endpoint_port}/health", timeout=1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
