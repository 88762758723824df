"""Exit 0 when the configuration names at least one deployment, 1 when none, 2 when it is invalid.

scripts/run.sh asks this before starting the embedded endpoint, so every source counts: the deployments file,
`.streamlit/secrets.toml` and the environment, exactly as the app reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.config import ConfigError, load_settings


def main() -> int:
    try:
        return 0 if load_settings().deployments else 1
    except ConfigError as err:
        print(f"Configuration problem: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
