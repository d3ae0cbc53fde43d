"""Arguments and checks shared by several subcommands (env/backend/ring/seed, scenario knobs)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from xr_codec_marl.errors import UsageError


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_env_args(p: argparse.ArgumentParser, ring_required: bool = False) -> None:
    """``--env --backend --ring --seed`` plus the XR scenario knobs users change most."""
    p.add_argument("--env", default="xr", help="scenario (default: xr)")
    p.add_argument("--backend", default="analytic", help="analytic or ns3 (default: analytic)")
    p.add_argument(
        "--ring", type=positive_float, default=400.0, required=ring_required,
        metavar="METRES", help="UE ring radius in metres (default: 400)",
    )
    p.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    p.add_argument("--workers", type=positive_int, default=1, help="ns-3 simulators in parallel")
    p.add_argument("--bandwidth", type=positive_float, default=None, metavar="MHZ",
                   help="cell bandwidth in MHz (default 20)")
    p.add_argument("--n-rates", type=int, default=None, metavar="K",
                   help="discrete codec rates per agent, K_o (default 10)")
    p.add_argument("--episode-limit", type=positive_int, default=None, metavar="WINDOWS",
                   help="windows of 0.5 s per episode (default 40)")
    p.add_argument("--users", default=None, metavar="TYPE[:MIN:MAX],...",
                   help="the XR users, one agent each: AR, VR or CG with an optional codec "
                        "range in Mbps, e.g. AR,VR:10:50,VR,CG (ids AR, VR1, VR2, CG; default "
                        "AR,VR,CG)")
    p.add_argument("--codec-range", action="append", default=[], metavar="AGENT=MIN:MAX",
                   help="override an agent's codec range in Mbps, e.g. VR=10:25 (repeatable)")
    p.add_argument("--ue-speed", type=nonnegative_float, default=None, metavar="M/S",
                   help="UE walking speed in m/s (default 3)")
    p.add_argument("--rlc-buffer", type=positive_int, default=None, metavar="BYTES",
                   help="RLC transmit buffer per UE in bytes (default 60000)")
    p.add_argument("--reward-shaping", action="store_true",
                   help="add the potential-based shaping of eqs. 21-23 to the rewards")
    p.add_argument("--analytic-profile", default="nr", metavar="NAME",
                   help="analytic model parameters: nr (the paper's NR cell, default) or "
                        "ns3-lte (calibrated to our ns-3 LTE scenario)")
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
                     help="set any xr-codec option (see `xr-codec --PrintHelp`), e.g. "
                          "ueSpeed=10 or scheduler=ns3::RrFfMacScheduler (repeatable)")


def scenario_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Scenario settings from the parsed flags, for ``make_env(**kwargs)``.

    ``--ns3-arg`` options that stand for a setting become that setting (so the spec, results
    and checkpoints see them); the others are passed to the simulator as ``ns3_args``.
    """
    from xr_codec_marl.scenarios.xr.settings import DEFAULT_USERS, XRScenario, parse_users

    kw: dict[str, Any] = {}
    if args.bandwidth is not None:
        kw["bandwidth_mhz"] = args.bandwidth
    if args.n_rates is not None:
        kw["n_rates"] = args.n_rates
    if args.episode_limit is not None:
        kw["episode_limit"] = args.episode_limit
    if args.reward_shaping:
        kw["reward_shaping"] = True
    if args.ue_speed is not None:
        kw["ue_speed_mps"] = args.ue_speed
    if args.rlc_buffer is not None:
        kw["rlc_buffer_bytes"] = args.rlc_buffer
    chosen = DEFAULT_USERS
    if args.users is not None:
        try:
            chosen = kw["users"] = parse_users(args.users)
        except ValueError as exc:
            raise UsageError(f"--users: {exc}") from None
    if args.codec_range:
        users = {u.agent_id: u for u in chosen}
        for item in args.codec_range:
            try:
                agent, rng = item.split("=", 1)
                lo, hi = (float(x) for x in rng.split(":", 1))
            except ValueError:
                raise UsageError(f"--codec-range expects AGENT=MIN:MAX, got {item!r}") from None
            if agent not in users:
                raise UsageError(f"unknown agent {agent!r} in --codec-range; allowed: {', '.join(users)}")
            if lo > hi:
                raise UsageError(f"codec range of {agent} has min {lo} > max {hi} Mbps")
            users[agent] = replace(users[agent], rate_min_mbps=lo, rate_max_mbps=hi)
        kw["users"] = tuple(users.values())
    if args.analytic_profile != "nr":
        if args.backend != "analytic":
            raise UsageError("--analytic-profile applies to --backend analytic only")
        kw["profile"] = args.analytic_profile
    if args.ns3_arg:
        if args.backend != "ns3":
            raise UsageError("--ns3-arg applies to --backend ns3 only")
        from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args

        base = XRScenario(ring_m=args.ring, **kw)
        try:
            changed = apply_ns3_args(base, args.ns3_arg)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        kw.update({f: v for f, v in vars(changed).items()
                   if f != "extra" and v != getattr(base, f)})
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
