"""Command line: `python -m local_endpoint --host 127.0.0.1 --port 8800`."""

from __future__ import annotations

import argparse

import uvicorn

from local_endpoint import DEFAULT_HOST, DEFAULT_PORT
from local_endpoint.app import create_app
from local_endpoint.config import EndpointConfig


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the endpoint until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m local_endpoint", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    app = create_app(EndpointConfig.from_environ())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=3)


if __name__ == "__main__":
    main()
