"""The README's examples, run as a reader would run them, against a live stack.

The Python client example (the ```python block under "From Python") and every command of
the curl walk-through (the ```bash block under "API walk-through") are read from
README.md itself, so a change that breaks either fails here. The walk-through's commands
are also checked against the routes: each sends the admin key exactly where the route
needs it and the client key where a client key is enough.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Match

from service.api.deps import require_admin, require_client
from service.api.main import create_app
from service.core.config import Settings
from service.testing.stack import ADMIN_KEY, CLIENT_KEY, Stack, launch_stack, train, wait_until
from service.training.status import JobStatus
from tests.conftest import REPO, data_dir

pytestmark = pytest.mark.integration

REDIS_DB = 8  # a database of its own: no other live stack's worker takes this one's jobs
README = REPO / "README.md"
README_API = "http://127.0.0.1:8000"  # the base URL the README's examples use
ML100K_FILES = ("u.data", "u.item", "u.genre")
# Every curl fails on an HTTP error, so "the command succeeded" means a 2xx answer.
CURL_FAILS_ON_HTTP_ERRORS = 'curl() { command curl --fail-with-body --silent --show-error "$@"; }\n'


def fenced_block(heading: str, language: str) -> str:
    """The first ```language block after a Markdown heading of README.md."""
    text = README.read_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n", text, flags=re.MULTILINE)
    assert match, f"README.md has no heading {heading!r}"
    block = re.compile(rf"^```{language}\n(.*?)^```\n", flags=re.MULTILINE | re.DOTALL).search(text, match.end())
    assert block, f"README.md has no ```{language} block after {heading!r}"
    return block.group(1)


def shell_statements(block: str) -> list[str]:
    """The block's statements: continuation lines joined, blank and comment lines dropped."""
    statements, current = [], ""
    for line in block.splitlines():
        if line.endswith("\\"):
            current += line[:-1]
            continue
        current += line
        if current.strip() and not current.lstrip().startswith("#"):
            statements.append(current.strip())
        current = ""
    return statements


def walkthrough() -> tuple[str, list[str]]:
    """(the variable assignments that open the block, the curl commands after them)."""
    statements = shell_statements(fenced_block("API walk-through", "bash"))
    first_curl = next(i for i, s in enumerate(statements) if s.startswith("curl "))
    prelude, commands = statements[:first_curl], statements[first_curl:]
    assert all(c.startswith("curl ") for c in commands), [c for c in commands if not c.startswith("curl ")]
    return "\n".join(prelude), commands


def method_path_keys(command: str) -> tuple[str, str, set[str]]:
    """What a walk-through curl sends: its method, its path and the key variables it uses."""
    words = shlex.split(command, comments=True)
    url = next(w for w in words if w.startswith("$API"))
    method = words[words.index("-X") + 1] if "-X" in words else "GET"
    if "-X" not in words and any(w in ("-d", "--data", "--data-binary") for w in words):
        method = "POST"
    keys = {w for w in words if w in ("$ADMIN", "$CLIENT")}
    return method, url.removeprefix("$API").split("?", 1)[0], keys


def api_routes(routes: list) -> Iterator[APIRoute]:
    """Every endpoint, also those FastAPI keeps inside an included router (0.165+)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def key_the_route_needs(routes: list[APIRoute], method: str, path: str) -> str | None:
    for route in routes:
        if route.matches({"type": "http", "path": path, "method": method})[0] == Match.FULL:
            calls = set(_dependency_calls(route.dependant))
            return "$ADMIN" if require_admin in calls else "$CLIENT" if require_client in calls else None
    raise AssertionError(f"the README's `{method} {path}` matches no route")


def _dependency_calls(dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with launch_stack(tmp_path_factory.mktemp("readme-stack"), REDIS_DB, data_dir() / "ml-100k") as live:
        yield live


@pytest.fixture(scope="module")
def trained(stack: Stack) -> str:
    """The stack's API, serving a model of the default type."""
    with httpx.Client(base_url=stack.api_urls[0], timeout=30) as client:
        train(client)
    return stack.api_urls[0]


def test_the_python_client_example_prints_explained_recommendations(trained, tmp_path):
    code = fenced_block("From Python", "python")
    assert README_API in code, f"the example no longer talks to {README_API}"
    script = tmp_path / "readme_example.py"
    script.write_text(code.replace(README_API, trained))
    # Only the client key, where the quick start keeps it: the example cannot lean on the admin's.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "client-api-key").write_text(CLIENT_KEY + "\n")
    env = {"PATH": os.environ["PATH"]}
    run = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "stored 5 ratings", run.stdout
    assert re.fullmatch(r"personalized list from model version \d+ \(\w+\):", lines[1]), run.stdout
    items = [line for line in lines[2:] if line.startswith("- ")]
    assert len(items) == 5, run.stdout
    for item in items:
        title, explanation = item[2:].split(": ", 1)
        assert title and explanation not in ("", "None"), item


def test_the_walkthrough_sends_each_key_where_it_belongs():
    app = create_app(Settings(environment="test", admin_api_key=ADMIN_KEY, client_api_key=CLIENT_KEY))
    routes = list(api_routes(app.routes))
    for command in walkthrough()[1]:
        method, path, keys = method_path_keys(command)
        needed = key_the_route_needs(routes, method, path)
        assert keys == ({needed} if needed else set()), (
            f"`{method} {path}` needs {needed or 'no key'} but the README sends {sorted(keys) or 'none'}: {command}"
        )


def test_every_walkthrough_command_succeeds(stack, tmp_path):
    prelude, commands = walkthrough()
    # The reader's situation: the quick start's admin key file, the client key in the
    # environment, and a GroupLens zip in the current folder.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin-api-key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "var" / "client-api-key").write_text(CLIENT_KEY + "\n")
    with zipfile.ZipFile(tmp_path / "ml-100k.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ML100K_FILES:
            archive.write(data_dir() / "ml-100k" / name, f"ml-100k/{name}")
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_API_KEY", "CLIENT_API_KEY")}
    api = stack.api_urls[0]
    assert README_API in prelude, f"the walk-through no longer starts from {README_API}"
    prelude = CURL_FAILS_ON_HTTP_ERRORS + prelude.replace(README_API, api) + "\n"

    job_id = None
    for command in commands:
        if "/api/ml/models/" in command:  # the versions the training commands make
            wait_for_jobs(api)
        if "JOB_ID" in command:
            assert job_id, f"{command} names JOB_ID before any command answered with a job"
            command = command.replace("JOB_ID", job_id)
        run = subprocess.run(["bash", "-c", prelude + command], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False)
        assert run.returncode == 0, f"{command}\nexit {run.returncode}\n{run.stdout}\n{run.stderr}"
        if "/api/ml/retrain" in command:
            job_id = json.loads(run.stdout)["jobs"][0]["job_id"]  # still queued behind the three above
        if "/api/ml/models/activate/" in command:
            wait_until(lambda: httpx.get(api + "/ready", timeout=5).status_code == 200, 60, "the activated version")


def wait_for_jobs(api: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while any(not JobStatus(j["status"]).is_terminal for j in httpx.get(api + "/api/ml/training-status").json()):
        assert time.monotonic() < deadline, "training jobs still running"
        time.sleep(0.2)
    wait_until(lambda: httpx.get(api + "/ready", timeout=5).status_code == 200, 60, "the active version")
