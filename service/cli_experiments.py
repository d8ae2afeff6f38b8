"""``recsys experiment start|list|show|stop|promote``: the experiments service from a shell,
in one transaction each, as the admin API would run it (the same checks and refusals)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from service.core.config import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    experiment = commands.add_parser("experiment", help="start, list, stop or promote an A/B experiment")
    actions = experiment.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start an experiment (one runs at a time)")
    start.add_argument("--name", required=True)
    start.add_argument("--arm", action="append", required=True, metavar="NAME=VERSION:SHARE",
                       help="an arm: a model version or 'popularity', and its share of all traffic "
                            "(e.g. control=3:0.5); twice or more")
    start.add_argument("--coverage", type=float, default=1.0, help="share of users in it; the shares sum to it")
    start.add_argument("--salt", default=None, help="hashed with user ids to assign arms (default: random)")
    actions.add_parser("list", help="every experiment, newest first")
    for name, text in (("show", "an experiment and its per-arm metrics"), ("stop", "end an experiment")):
        actions.add_parser(name, help=text).add_argument("id", type=int)
    promote = actions.add_parser("promote", help="end an experiment and activate an arm's version")
    promote.add_argument("id", type=int)
    promote.add_argument("arm")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from service.core.errors import ServiceError
    from service.schemas.experiments import ExperimentCreate
    from service.services import experiments

    try:
        if args.action == "start":
            body = ExperimentCreate(name=args.name, arms=[_arm(text) for text in args.arm],
                                    coverage=args.coverage, salt=args.salt)
            call: Callable[[Any], Awaitable[Any]] = lambda s: experiments.start(s, body)
        elif args.action == "list":
            call = experiments.list_experiments
        elif args.action == "show":
            call = lambda s: _show(s, settings, args.id)
        elif args.action == "stop":
            call = lambda s: experiments.stop(s, args.id)
        else:
            call = lambda s: experiments.promote(s, args.id, args.arm)
        result = asyncio.run(_in_transaction(settings, call))
    except (ValueError, ValidationError) as exc:
        print(f"invalid experiment: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"{exc.message}" + (f" (field {exc.field})" if exc.field else ""), file=sys.stderr)
        return 2 if exc.status_code in (404, 422) else 1
    print(json.dumps(_plain(result), indent=2))
    return 0


def _arm(text: str) -> dict[str, Any]:
    """``name=version:share`` or ``name=popularity:share``."""
    name, _, rest = text.partition("=")
    served, _, share = rest.partition(":")
    if not name or not served or not share:
        raise ValueError(f"--arm {text!r}: expected NAME=VERSION:SHARE or NAME=popularity:SHARE")
    arm: dict[str, Any] = {"name": name, "share": float(share)}
    if served == "popularity":
        arm["fallback"] = "popularity"
    else:
        arm["model_version"] = int(served)
    return arm


async def _show(session, settings: Settings, experiment_id: int) -> dict[str, Any]:
    from service.services import experiments

    return {"experiment": await experiments.get(session, experiment_id),
            "metrics": await experiments.metrics(session, settings, experiment_id)}


async def _in_transaction(settings: Settings, call: Callable[[Any], Awaitable[Any]]) -> Any:
    from service.db.session import async_session_factory, build_async_engine
    from service.db.transaction import transaction

    engine = build_async_engine(settings)
    try:
        async with transaction(async_session_factory(engine)) as session:
            return await call(session)
    finally:
        await engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
