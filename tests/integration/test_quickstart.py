"""The quick start script itself: with nothing to import it stops with one clear message."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_the_quick_start_without_a_dataset_prints_what_to_do_and_exits_non_zero(tmp_path):
    env = {
        **os.environ,
        "VENV": sys.prefix,  # the venv running the tests: nothing new to install
        "MOVIELENS": str(tmp_path / "missing" / "ml-100k.zip"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "WORKER_MODE": "inprocess",
        "LOG_LEVEL": "WARNING",
    }
    run = subprocess.run([str(REPO / "scripts" / "quickstart.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "import failed: " in run.stderr and "ml-100k.zip is neither an existing folder/zip" in run.stderr
    assert "MOVIELENS=" in run.stderr and "Traceback" not in run.stderr
    assert "Generated admin API key" not in run.stdout  # it never got as far as serving
