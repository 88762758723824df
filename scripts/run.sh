#!/usr/bin/env bash
# Starts the app; with no deployment configured it first starts the embedded endpoint and points the app at it.
set -euo pipefail
cd "$(dirname "$0")/.."
# In the container there is no .venv: the image installs into the system Python.
if [ -x .venv/bin/python ]; then BIN=.venv/bin; else BIN="$(dirname "$(command -v python)")"; fi
config="${PLAYGROUND_CONFIG:-deployments.toml}"
port="${LOCAL_ENDPOINT_PORT:-8800}"

configured=no
[ -f "$config" ] && configured=yes
[ -n "${AZUREAI_ENDPOINT_URL:-}" ] && configured=yes
env | grep -q '^PLAYGROUND_DEPLOYMENTS__' && configured=yes

if [ "$configured" = no ]; then
  echo "No deployment configured: starting the embedded endpoint on 127.0.0.1:$port"
  "$BIN/python" -m local_endpoint --host 127.0.0.1 --port "$port" &
  endpoint_pid=$!
  trap 'kill $endpoint_pid 2>/dev/null || true' EXIT INT TERM
  export PLAYGROUND_LOCAL_ENDPOINT="http://127.0.0.1:$port"
fi
PYTHONPATH=. "$BIN/streamlit" run app/main.py "$@"
