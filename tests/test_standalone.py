"""The repository stands alone: a clone with nothing beside it runs the contract tests; no file points outside."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A path that leaves the repository: a sibling folder, or climbing more parents than the deepest module has.
OUTSIDE = re.compile(r"\.\./shared|\bshared/api\b|parents\[[3-9]\]")


def _tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    offenders = []
    for name in _tracked_files():
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".jpg", ".json", ".csv"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        offenders += [f"{name}: {match.group(0)}" for match in OUTSIDE.finditer(text)]
    # This file names the patterns it looks for; nothing else may.
    offenders = [line for line in offenders if not line.startswith("tests/test_standalone.py")]
    assert offenders == []


def test_contract_tests_pass_in_a_copy_with_nothing_beside_it(tmp_path: Path) -> None:
    # The copy sits two folders down in an empty temporary tree, so no sibling folder (a `shared` one) exists.
    clone = tmp_path / "alone" / "repo"
    for name in _tracked_files():
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    assert not (clone.parent / "shared").exists() and not (clone.parent.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYGROUND_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "contract", "tests/local_endpoint"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # The contract tests really ran (none skipped for a missing file).
    passed = int(re.search(r"(\d+) passed", summary).group(1)) if "passed" in summary else 0
    assert passed >= 3 and "skipped" not in summary, summary


@pytest.mark.parametrize("name", ["PROTOCOL.md", "PROVENANCE.md"])
def test_contract_docs_are_kept_in_the_repository(name: str) -> None:
    assert (ROOT / "docs" / "api" / name).is_file()
