"""Plant faults a test suite must catch, one at a time, and fail if any survives.

Each fault is a small edit to the product's code, made in a copy of the working tree
(the checkout itself is never touched). The tests that guard the behaviour run against
the copy, with its code first on every process's path: the pytest process, and the
uvicorn and Celery processes the live stack starts. A fault is caught when those tests
fail on an assertion; a test erroring in set-up does not count, since a broken copy
would "catch" everything. An edit that no longer applies (its code changed) fails the
check too, so it cannot rot into a check of nothing.

Usage: python scripts/mutation_check.py [fault name ...]   (default: all)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    path: str
    before: str
    after: str
    tests: tuple[str, ...]


FAULTS = (
    Fault(
        name="learns-nothing",
        what="the model learns nothing: item ids shuffled (a random relabelling) before the evaluated fit",
        path="service/training/fitting.py",
        before="build_model(model_type, params).fit(\n            inner.train,",
        after="build_model(model_type, params).fit(\n            inner.train.assign(item_id=inner.train['item_id'].map("
              "pd.Series(pd.Series(inner.train['item_id'].unique()).sample(frac=1.0, random_state=0).to_numpy(), "
              "index=inner.train['item_id'].unique()))),",
        tests=("tests/integration/test_service_quality.py",),
    ),
    Fault(
        name="gate-always-activates",
        what="the quality gate activates every version",
        path="service/training/gate.py",
        before='    """The first model always activates; later ones as the module docstring says."""\n',
        after='    """The first model always activates; later ones as the module docstring says."""\n'
              '    return Verdict(True, "activated")\n',
        tests=("tests/integration/test_gate_and_retention.py::test_a_worse_version_is_evaluated_and_kept_out_with_its_reason",),
    ),
    Fault(
        name="retention-deletes-nothing",
        what="retention deletes nothing",
        path="service/training/retention.py",
        before="doomed = list(session.scalars(statements.versions_beyond_retention(max(keep - has_active, 0))))",
        after="doomed: list[int] = []",
        tests=("tests/integration/test_gate_and_retention.py::"
               "test_retention_keeps_the_newest_versions_and_the_active_one_however_old",),
    ),
    Fault(
        name="recommends-the-worst",
        what="recommendations are the lowest-scored unseen movies (still listed best first)",
        path="recsys_core/recommender.py",
        before="        top = top_n_indices(scores, n)\n        return self.item_ids[top]",
        after="        top = top_n_indices(-scores, n)[::-1]\n        return self.item_ids[top]",
        tests=("tests/integration/test_genre_fans.py",),
    ),
)


def copy_tree(destination: Path) -> None:
    """The working tree as it is (tracked and new files, not ignored ones)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def plant(copy: Path, fault: Fault) -> None:
    path = copy / fault.path
    text = path.read_text()
    if text.count(fault.before) != 1:
        raise SystemExit(f"fault {fault.name} no longer applies: {fault.path} changed; update scripts/mutation_check.py")
    path.write_text(text.replace(fault.before, fault.after))


def env_for(copy: Path) -> dict[str, str]:
    data = os.environ.get("RECSYS_DATA_DIR", str(REPO.parent / "shared" / "data"))  # the tests' MovieLens
    return {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", "RECSYS_DATA_DIR": data}


def check_imports_from(copy: Path) -> None:
    """The copy's code, not the installed checkout's, is what a process imports."""
    found = subprocess.run([sys.executable, "-c", "import service, recsys_core; print(service.__file__); "
                            "print(recsys_core.__file__)"], cwd=copy, env=env_for(copy), check=True,
                           capture_output=True, text=True).stdout.split()
    assert all(Path(f).is_relative_to(copy) for f in found), f"imports come from {found}, not {copy}"


def run_tests(copy: Path, fault: Fault) -> tuple[bool, str]:
    """(caught, pytest's summary)."""
    done = subprocess.run([sys.executable, "-m", "pytest", *fault.tests, "-x", "-q", "-rfE", "-p", "no:cacheprovider"],
                          cwd=copy, env=env_for(copy), capture_output=True, text=True, timeout=1200)
    lines = done.stdout.splitlines()
    failed = [line for line in lines if line.startswith("FAILED ")]
    errors = [line for line in lines if line.startswith("ERROR ")]
    summary = lines[-1] if lines else done.stderr[-500:]
    first_error = next((line[1:].strip() for line in lines if line.startswith("E ")), "")
    summary = f"{summary}; {first_error[:160]}"
    if errors:
        print(done.stdout[-6000:], file=sys.stderr)
    return done.returncode == 1 and bool(failed) and not errors, re.sub(r"=+", "", summary).strip()


def main(names: list[str]) -> int:
    unknown = set(names) - {f.name for f in FAULTS}
    if unknown:
        raise SystemExit(f"unknown faults {sorted(unknown)}; known: {[f.name for f in FAULTS]}")
    survived = []
    for fault in FAULTS:
        if names and fault.name not in names:
            continue
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"mutant-{fault.name}-") as folder:
            copy = Path(folder)
            copy_tree(copy)
            plant(copy, fault)
            check_imports_from(copy)
            caught, summary = run_tests(copy, fault)
        verdict = "caught" if caught else "SURVIVED"
        print(f"{verdict:9} {fault.name:26} {time.monotonic() - started:6.0f} s  {fault.what}  [{summary}]", flush=True)
        if not caught:
            survived.append(fault.name)
    if survived:
        print(f"mutation check failed: {', '.join(survived)} went unnoticed by the tests that guard them")
        return 1
    print("mutation check passed: every planted fault was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
