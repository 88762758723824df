#!/usr/bin/env bash
# Starts the app; with no deployment configured it first starts the embedded endpoint and points the app at it.
set -euo pipefail
cd "$(dirname "$0")/.."
# In the container there is no .venv: the image installs into the system Python.
if [ -x .venv/bin/python ]; then BIN=.venv/bin; else BIN="$(dirname "$(command -v python)")"; fi
port="${LOCAL_ENDPOINT_PORT:-8800}"

# Loopback unless told otherwise (the container sets 0.0.0.0): endpoints added in the page may then reach anything
# (PLAYGROUND_USER_ENDPOINTS defaults to `any` on loopback, `public-only` beyond it; see the README's security model).
export STREAMLIT_SERVER_ADDRESS="${STREAMLIT_SERVER_ADDRESS:-127.0.0.1}"

# Streamlit refuses uploads over server.maxUploadSize (20 MB in .streamlit/config.toml) before the app sees them,
# so a larger PLAYGROUND_IMAGE_MAX_MB raises it to match.
if [ -n "${PLAYGROUND_IMAGE_MAX_MB:-}" ] && [ -z "${STREAMLIT_SERVER_MAX_UPLOAD_SIZE:-}" ]; then
  upload_mb=$(awk -v mb="$PLAYGROUND_IMAGE_MAX_MB" 'BEGIN { v = int(mb + 0.999); if (v > 20) print v }')
  [ -n "$upload_mb" ] && export STREAMLIT_SERVER_MAX_UPLOAD_SIZE="$upload_mb"
fi

# The configuration loader decides (deployments file, .streamlit/secrets.toml, environment): 0 = configured,
# 1 = nothing configured, 2 = invalid (the app then shows the problem, and no endpoint is started in its place).
configured=0
"$BIN/python" scripts/has_deployments.py || configured=$?

if [ "$configured" = 1 ]; then
  echo "No deployment configured: starting the embedded endpoint on 127.0.0.1:$port"
  "$BIN/python" -m local_endpoint --host 127.0.0.1 --port "$port" &
  endpoint_pid=$!
  trap 'kill $endpoint_pid 2>/dev/null || true' EXIT INT TERM
  export PLAYGROUND_LOCAL_ENDPOINT="http://127.0.0.1:$port"
fi
PYTHONPATH=. "$BIN/streamlit" run app/main.py "$@"
