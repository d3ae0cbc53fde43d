"""The XR scenario's command-line flags, shared by every command that builds its env."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from xr_codec_marl.core.argtypes import nonnegative_float, positive_float, positive_int
from xr_codec_marl.errors import UsageError


def add_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--ring`` and the XR knobs users change most."""
    p.add_argument("--ring", type=positive_float, default=400.0, metavar="METRES",
                   help="UE ring radius in metres (default: 400)")
    p.add_argument("--ran", choices=("nr", "lte"), default=None,
                   help="ns-3 backend: radio access network, nr (5G-LENA; the default when "
                        "build-ns3 built it) or lte")
    p.add_argument("--bandwidth", type=positive_float, default=None, metavar="MHZ",
                   help="cell bandwidth in MHz (default 20)")
    p.add_argument("--n-rates", type=int, default=None, metavar="K",
                   help="discrete codec rates per agent, K_o (default 10)")
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
    p.add_argument("--observation", choices=("eq13", "channel"), default=None,
                   help="what agents observe: eq13 (the paper's eq. 13, default) or channel "
                        "(eq. 13 plus the UE's own downlink SINR of the last window)")
    p.add_argument("--actions", choices=("discrete", "continuous"), default=None,
                   help="what each agent chooses every window: discrete (one of the K_o codec "
                        "rates, default; every learner) or continuous (any codec rate in its "
                        "[d_min, d_max] Mbps range; --algo mappo, ippo or imappo, and the rules)")
    p.add_argument("--reward-shaping", action="store_true",
                   help="add the potential-based shaping of eqs. 21-23 to the rewards")
    p.add_argument("--analytic-profile", default="nr", metavar="NAME",
                   help="analytic model parameters: nr (the paper's NR cell, default), "
                        "ns3-nr (calibrated to our ns-3 5G-LENA NR scenario) or ns3-lte "
                        "(calibrated to our ns-3 LTE scenario)")
    add_dynamics_arguments(p)


def _load_users(text: str) -> int:
    from xr_codec_marl.scenarios.xr.settings import MAX_LOAD_USERS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= MAX_LOAD_USERS:
        raise argparse.ArgumentTypeError(f"must be in [0, {MAX_LOAD_USERS}], got {text}")
    return value


def add_dynamics_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Issue 14's dynamics (README "Dynamics"): all off by default, the paper's setting."""
    p.add_argument("--load-users", type=_load_users, default=None, metavar="K",
                   help="background (non-agent) downlink users sharing the cell, switching "
                        "their traffic on and off (default 0: none)")
    p.add_argument("--load-mbps", type=positive_float, default=None, metavar="MBPS",
                   help="each background user's rate while on (default 10)")
    p.add_argument("--load-on-s", type=positive_float, default=None, metavar="S",
                   help="background users: mean on period, exponential (default 2)")
    p.add_argument("--load-off-s", type=positive_float, default=None, metavar="S",
                   help="background users: mean off period, exponential (default 2)")
    p.add_argument("--mobility", choices=("walk", "cross"), default=None,
                   help="walk: random walk inside the ring (default, the paper's); cross: "
                        "straight chords across the disc, edge -> base station -> far edge, "
                        "at --ue-speed (default for cross 30 m/s)")
    p.add_argument("--blockage-rate", type=nonnegative_float, default=None, metavar="PER_S",
                   help="blockage onsets per XR user per second, Poisson (default 0: none)")
    p.add_argument("--blockage-s", type=positive_float, default=None, metavar="S",
                   help="mean blockage duration, exponential (default 1)")
    p.add_argument("--blockage-db", type=nonnegative_float, default=None, metavar="DB",
                   help="extra path loss while blocked (default 20 dB)")


def dynamics_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Settings of the flags of :func:`add_dynamics_arguments` that were given."""
    from xr_codec_marl.scenarios.xr.settings import CROSS_SPEED_MPS

    names = {"load_users": "load_users", "load_mbps": "load_mbps", "load_on_s": "load_on_s",
             "load_off_s": "load_off_s", "mobility": "mobility",
             "blockage_rate": "blockage_rate_hz", "blockage_s": "blockage_s",
             "blockage_db": "blockage_db"}
    kw = {f: getattr(args, a) for a, f in names.items() if getattr(args, a, None) is not None}
    if kw.get("mobility") == "cross" and getattr(args, "ue_speed", None) is None:
        kw["ue_speed_mps"] = CROSS_SPEED_MPS
    return kw


def kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Settings (and the analytic ``profile``) from the flags of :func:`add_arguments`."""
    from xr_codec_marl.scenarios.xr.settings import DEFAULT_USERS, parse_users

    kw: dict[str, Any] = {"ring_m": float(args.ring)}
    if getattr(args, "ran", None) is not None:
        if args.backend != "ns3":
            raise UsageError("--ran applies to --backend ns3 only (the analytic model has "
                             "--analytic-profile)")
        kw["ran"] = args.ran
    if args.bandwidth is not None:
        kw["bandwidth_mhz"] = args.bandwidth
    if args.n_rates is not None:
        kw["n_rates"] = args.n_rates
    if getattr(args, "observation", None) is not None:
        kw["observation"] = args.observation
    if getattr(args, "actions", None) is not None:
        kw["actions"] = args.actions
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
    kw.update(dynamics_kwargs(args))
    return kw


def apply_ns3_args(kw: dict[str, Any], items: Sequence[str]) -> dict[str, Any]:
    """``--ns3-arg`` options that stand for a setting become that setting (so the spec,
    results and checkpoints see them); the others reach the simulator as ``ns3_args``."""
    from xr_codec_marl.scenarios.xr.ns3_args import apply_ns3_args as apply
    from xr_codec_marl.scenarios.xr.settings import XRScenario, scenario_field_names

    settings = {k: v for k, v in kw.items() if k in scenario_field_names()}
    base = XRScenario(**settings)
    changed = apply(base, items)
    out = dict(kw)
    out.update({f: v for f, v in vars(changed).items() if f != "extra" and v != getattr(base, f)})
    return out
