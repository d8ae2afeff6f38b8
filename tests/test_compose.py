"""The deployment files: docker-compose.yml, the Dockerfile, and the CLI they call.

No Docker engine is needed. The compose file is read as YAML and checked for the habits
the stack relies on: services wait for healthy dependencies, migrations run once before
anything uses the schema, and secrets fail loudly when unset. Every ``recsys`` command
line the files use must be accepted by the real CLI parser.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

APP_SERVICES = ("migrate", "api", "worker", "beat")
LONG_RUNNING_APP_SERVICES = ("api", "worker", "beat")
EXPECTED_SUBCOMMAND = {"migrate": "migrate", "api": "serve", "worker": "worker", "beat": "beat"}
REQUIRED_VARIABLES = ("ADMIN_API_KEY", "CLIENT_API_KEY", "POSTGRES_PASSWORD")

# Command lines the README documents that compose does not run.
DOCUMENTED_COMMANDS = (
    ["import-movielens", "/tmp/x"],
    ["train", "--wait"],
    ["experiment", "start", "--name", "x", "--arm", "a=1:0.5", "--arm", "b=popularity:0.5", "--coverage", "1"],
    ["experiment", "promote", "1", "a"],
    ["experiment", "show", "1"],
)

COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


# --- helpers ------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    """Raised where `docker compose` would refuse to start: a `${VAR:?message}` is unset."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Apply compose's variable interpolation to every string in a parsed compose value."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        missing = not current if op in (":-", ":?") else current is None
        if op is None or not missing:
            return current or ""
        if op.endswith("?"):
            raise MissingVariable(f"{name}: {arg}")
        return arg

    escaped = value.replace("$$", "\0")
    return _VARIABLE.sub(substitute, escaped).replace("\0", "$")


def depends_on(service: str) -> dict[str, str]:
    """The service's dependencies mapped to their condition (short list form = started)."""
    deps = SERVICES[service].get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) pairs, with continuation lines joined and comments dropped."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    return instructions


def recsys_command_lines() -> list[tuple[str, list[str]]]:
    """Every `recsys ...` argv the deployment files run, labelled by where it comes from."""
    found = [
        (f"compose:{name}", service["command"][1:])
        for name, service in SERVICES.items()
        if isinstance(service.get("command"), list) and service["command"][:1] == ["recsys"]
    ]
    for keyword, args in dockerfile_instructions():
        if keyword == "CMD":
            command = json.loads(args)
            if command[:1] == ["recsys"]:
                found.append(("Dockerfile:CMD", command[1:]))
    found += [(f"documented:{argv[0]}", argv) for argv in DOCUMENTED_COMMANDS]
    return found


# --- services and their wiring --------------------------------------------------------------


@pytest.mark.parametrize("name", ["postgres", "redis", *APP_SERVICES])
def test_service_exists(name: str) -> None:
    assert name in SERVICES, f"docker-compose.yml has no `{name}` service"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_recsys_subcommand(name: str) -> None:
    command = SERVICES[name].get("command")
    assert isinstance(command, list), f"{name}: use the exec (list) form for `command`"
    assert command[:2] == ["recsys", EXPECTED_SUBCOMMAND[name]]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_is_built_from_this_checkout(name: str) -> None:
    build = SERVICES[name].get("build")
    context = build.get("context") if isinstance(build, dict) else build
    assert context in (".", "./"), f"{name}: build the image from the repository root"


def test_api_serves_on_published_port_with_several_workers() -> None:
    command = SERVICES["api"]["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert f"{port}:{port}" in [str(mapping) for mapping in SERVICES["api"]["ports"]]
    assert int(command[command.index("--workers") + 1]) >= 2


@pytest.mark.parametrize("name", ["postgres", "redis", "api"])
def test_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck") or {}
    assert not check.get("disable"), f"{name}: healthcheck is disabled"
    assert check.get("test"), f"{name}: no healthcheck test"


def test_healthchecks_probe_the_right_thing() -> None:
    assert "pg_isready" in " ".join(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    api_check = " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert "urllib" in api_check and "/ready" in api_check


def test_migrate_runs_once_after_postgres_is_healthy() -> None:
    assert depends_on("migrate").get("postgres") == "service_healthy"
    assert str(SERVICES["migrate"].get("restart")) == "no"


@pytest.mark.parametrize("name", LONG_RUNNING_APP_SERVICES)
def test_app_service_waits_for_migrations_and_broker(name: str) -> None:
    deps = depends_on(name)
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("redis") == "service_healthy"
    if name == "api":
        assert deps.get("postgres") == "service_healthy"


def test_postgres_data_is_on_a_named_volume() -> None:
    mounts = [str(mount) for mount in SERVICES["postgres"].get("volumes", [])]
    named = [m.split(":", 1)[0] for m in mounts if m.endswith(":/var/lib/postgresql/data")]
    assert named and named[0] in (COMPOSE.get("volumes") or {})


# --- environment ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_uses_celery_in_production_against_the_compose_services(name: str) -> None:
    env = environment(name)
    assert env["WORKER_MODE"] == "celery"
    assert env["ENVIRONMENT"] == "production"
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_receives_the_api_keys(name: str) -> None:
    env = environment(name)
    assert env["ADMIN_API_KEY"].startswith("${ADMIN_API_KEY")
    assert env["CLIENT_API_KEY"].startswith("${CLIENT_API_KEY")


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_required_variable_always_uses_the_fail_loudly_form(variable: str) -> None:
    uses = [m for m in _VARIABLE.finditer(COMPOSE_FILE.read_text()) if m["name"] == variable]
    assert uses, f"{variable} is never used in docker-compose.yml"
    for use in uses:
        assert use["op"] == ":?" and use["arg"].strip(), (
            f"{use.group(0)}: write ${{{variable}:?message}} so compose refuses to start "
            "when it is unset or empty"
        )


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_start_without_required_variable(variable: str, value: str | None) -> None:
    env = {name: "s3cret-value" for name in REQUIRED_VARIABLES}
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    with pytest.raises(MissingVariable, match=variable):
        interpolate(COMPOSE, env)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_interpolated_app_environment_is_accepted_by_settings(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from service.core.config import Settings

    resolved = interpolate(environment(name), {v: "s3cret-value" for v in REQUIRED_VARIABLES})
    monkeypatch.chdir(tmp_path)  # no stray .env file
    for key, value in resolved.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.worker_mode == "celery"
    assert settings.environment == "production"
    assert not settings.is_sqlite
    assert settings.admin_api_key == "s3cret-value"
    assert settings.retrain_schedule == "0 3 * * 0"
    assert settings.model_retention == 5


def test_spark_profile_runs_apache_spark_beside_the_worker_on_one_snapshot_volume() -> None:
    master, worker = SERVICES["spark-master"], SERVICES["spark-worker"]
    for service in (master, worker):
        assert service["profiles"] == ["spark"]  # optional: `docker compose --profile spark`
        assert service["image"] == "apache/spark:${SPARK_VERSION:-4.0.1}"
    # the app image's pyspark is pinned to the same Spark version
    assert "ARG SPARK_VERSION=4.0.1" in DOCKERFILE.read_text()
    assert SERVICES["worker"]["build"]["args"]["SPARK_VERSION"] == "${SPARK_VERSION:-4.0.1}"
    assert worker["command"][-1] == "spark://spark-master:7077"
    snapshots = environment("worker")["SPARK_SNAPSHOT_URL"]
    mount = f"spark-snapshots:{snapshots}"
    assert mount in SERVICES["worker"]["volumes"] and mount in worker["volumes"]
    assert "spark-snapshots" in COMPOSE["volumes"]
    assert "profiles" not in SERVICES["worker"]  # the app's worker runs either way
    resolved = interpolate(environment("worker"), {v: "x" for v in REQUIRED_VARIABLES})
    assert resolved["SPARK_MASTER_URL"] == "local[*]"  # unless SPARK_MASTER_URL names the master
    assert json.loads(resolved["SPARK_CONF"])["spark.driver.host"] == "worker"


# --- image ------------------------------------------------------------------------------------


def test_dockerfile_installs_the_project_with_pip() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    # `.` or the checkout with extras (`".[spark]"`)
    assert any(re.search(r"\bpip install\b.*(?<!\S)[\"']?\.(\[[\w,]+\])?[\"']?(?!\S)", run) for run in runs), (
        "install the project with `pip install .`, as the README does"
    )


def test_dockerfile_copies_what_the_install_needs() -> None:
    copied = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "COPY")
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"]
    needed = ["pyproject.toml", "README.md", *(p.rstrip("*") for p in packages["include"])]
    missing = [item for item in needed if not re.search(rf"(?<![\w/]){re.escape(item)}\b", copied)]
    assert not missing, f"the Dockerfile does not COPY {missing}"


def test_dockerfile_runs_as_non_root_and_checks_health() -> None:
    instructions = dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "8000") in instructions
    healthchecks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks and "urllib" in healthchecks[-1]
    assert "http://127.0.0.1:8000/health" in healthchecks[-1]
    cmd = [json.loads(args) for keyword, args in instructions if keyword == "CMD"][-1]
    assert cmd == ["recsys", "serve", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_package_data() -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".git", ".venv", ".env", "data", "var", "service/__pycache__"):
        assert any(fnmatch.fnmatch(path, p) for p in patterns), f"{path} is not docker-ignored"
    # .dockerignore patterns are anchored at the root: "data" must not swallow the package.
    for path in ("recsys_core/data", "recsys_core/data/movielens.py", "README.md", "migrations"):
        assert not any(fnmatch.fnmatch(path, p) for p in patterns), f"{path} is docker-ignored"


# --- the CLI the files call -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_parser():
    cli = importlib.import_module("service.cli")
    return cli.build_parser


@pytest.mark.parametrize(
    "argv", [argv for _, argv in recsys_command_lines()], ids=[i for i, _ in recsys_command_lines()]
)
def test_cli_accepts_command_line(cli_parser, argv: list[str]) -> None:
    try:
        cli_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`recsys {' '.join(argv)}` is rejected by service.cli (exit {exc.code})")
