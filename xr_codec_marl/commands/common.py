"""Arguments and checks shared by several subcommands (env/backend/seed, ns-3, scenario flags)."""

from __future__ import annotations

import argparse
from typing import Any

from xr_codec_marl.core.argtypes import nonnegative_float, positive_float, positive_int
from xr_codec_marl.errors import UsageError

__all__ = ["add_env_args", "nonnegative_float", "peek_env", "positive_float", "positive_int",
           "scenario_kwargs", "select_env", "selected_scenario"]


#: The scenario whose flags the parsers carry: ``--env`` peeked from the command line before
#: the parsers are built (``cli.main``), so ``xr-marl evaluate --env E --help`` shows E's flags.
_selected_env = "xr"


def peek_env(argv: list[str]) -> str:
    """The ``--env`` value of a command line, without parsing it (default ``xr``)."""
    for i, arg in enumerate(argv):
        if arg == "--env" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--env="):
            return arg.split("=", 1)[1]
    return "xr"


def select_env(name: str) -> None:
    global _selected_env
    _selected_env = name


def selected_scenario():
    """The scenario of the peeked ``--env``, or None when no such scenario is registered
    (the parsed ``--env`` then fails with the list of known ones)."""
    from xr_codec_marl.core.registry import find_scenario

    return find_scenario(_selected_env)


def add_env_args(p: argparse.ArgumentParser) -> None:
    """``--env --backend --seed --workers --episode-limit``, the ns-3 backend's flags, and the
    selected scenario's own flags (``Scenario.add_arguments``)."""
    from xr_codec_marl.core.registry import scenario_names

    p.add_argument("--env", default="xr", help=f"scenario: {', '.join(scenario_names())} "
                   "(default: xr); the flags under its name below depend on it")
    p.add_argument("--backend", default="analytic", help="analytic or ns3 (default: analytic)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    p.add_argument("--workers", type=positive_int, default=1, help="ns-3 simulators in parallel")
    p.add_argument("--episode-limit", type=positive_int, default=None, metavar="STEPS",
                   help="decision steps per episode (default: the scenario's)")
    scenario = selected_scenario()
    if scenario is not None:
        scenario.add_arguments(p.add_argument_group(f"scenario {scenario.name}",
                                                    scenario.description))
    ns3 = p.add_argument_group("ns-3 backend")
    ns3.add_argument("--endpoint", default=None,
                     help="where simulators connect (tcp://HOST:PORT or ipc://PATH); default: a "
                          "free loopback port when launching, tcp://127.0.0.1:5555 with --attach")
    ns3.add_argument("--attach", action="store_true",
                     help="wait for simulators started elsewhere instead of launching them")
    ns3.add_argument("--sim-timeout", type=positive_float, default=30.0, metavar="S",
                     help="seconds of silence after which a simulator counts as dead (default 30)")
    ns3.add_argument("--connect-timeout", type=positive_float, default=None, metavar="S",
                     help="seconds to wait for simulators to connect (default 60 when launching, "
                          "120 with --attach)")
    ns3.add_argument("--sim-logs", default=None, metavar="DIR",
                     help="directory for the launched simulators' stdout/stderr")
    ns3.add_argument("--ns3-arg", action="append", default=[], metavar="NAME=VALUE",
                     help="set any option of the scenario's simulator (see `BINARY --PrintHelp`), "
                          "e.g. ueSpeed=10 (repeatable)")


def scenario_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Settings and backend options from the parsed flags, for ``make_env(**kwargs)``.

    ``--ns3-arg`` options go through the scenario (:meth:`Scenario.apply_ns3_args`), which
    turns those that stand for a setting into that setting so the spec, results and
    checkpoints see them.
    """
    from xr_codec_marl.env.factory import check_env_backend

    scenario = check_env_backend(args.env, args.backend)
    kw: dict[str, Any] = dict(scenario.kwargs_from_args(args))
    if args.episode_limit is not None:
        if "episode_limit" not in scenario.setting_names():
            raise UsageError(f"--episode-limit: scenario {scenario.name!r} has no episode limit")
        kw["episode_limit"] = args.episode_limit
    if args.ns3_arg:
        if args.backend != "ns3":
            raise UsageError("--ns3-arg applies to --backend ns3 only")
        try:
            kw = scenario.apply_ns3_args(kw, args.ns3_arg)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.backend == "ns3":
        kw["workers"] = args.workers
        kw["sim_timeout_s"] = args.sim_timeout
        if args.endpoint:
            kw["endpoint"] = args.endpoint
        if args.attach:
            kw["attach"] = True
        if args.sim_logs:
            kw["log_dir"] = args.sim_logs
        if args.connect_timeout is not None:
            kw["connect_timeout_s"] = args.connect_timeout
    elif args.endpoint or args.attach:
        raise UsageError("--endpoint and --attach apply to --backend ns3 only")
    return kw
