"""The xr-codec simulator's command line, seen from the XR scenario settings.

``scenario_arguments(scenario)`` turns an :class:`XRScenario` into the simulator's ns-3
``--name=value`` arguments. ``apply_ns3_args(scenario, ["ueSpeed=10", ...])`` goes the other
way for ``xr-marl --ns3-arg``: every CommandLine option of ``xr-codec`` can be set, names
are checked against :data:`XR_CODEC_OPTIONS` (kept equal to ``xr-codec --PrintHelp`` by a
test), and an option that stands for a scenario setting changes that typed setting, so the
spec, the results and the checkpoints all see it; the others travel in
``XRScenario.ns3_args``. Bad input is one ``ValueError`` line naming the problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from xr_codec_marl.scenarios.xr.settings import XRScenario, default_user_ids, parse_users, user_type

#: Every program option of ``xr-codec`` (``--PrintHelp``) and the type of its value.
XR_CODEC_OPTIONS: dict[str, type] = {
    "ringRadius": float, "minDistance": float, "seed": int, "run": int, "endpoint": str,
    "timeoutMs": int, "identity": str, "fixedAction": str, "printKpis": bool,
    "nRates": int, "actions": str, "users": str, "arMin": float, "arMax": float, "vrMin": float, "vrMax": float,
    "cgMin": float, "cgMax": float, "audioMbps": float, "audioPeriodMs": float,
    "poseBytes": int, "posePeriodMs": float, "bandwidthRbs": int, "rlcBufferBytes": int, "rlcMode": str,
    "fps": float, "sizeStdFrac": float, "sizeMinFrac": float, "sizeMaxFrac": float,
    "jitterStdMs": float, "jitterBoundMs": float, "pacingMs": float, "mtu": int,
    "stepInterval": float, "episodeLimit": int, "warmup": float, "lossDeadlineMs": float,
    "ueSpeed": float, "turnInterval": float, "frequencyGhz": float, "enbTxDbm": float,
    "ueTxDbm": float, "enbNoiseFigure": float, "ueNoiseFigure": float,
    "enbAntennaGainDb": float, "enbHeight": float, "ueHeight": float, "shadowing": bool,
    "scheduler": str, "bearerQci": int, "coreDelayMs": float, "numerology": int,
    "gnbAntennaRows": int, "gnbAntennaCols": int, "nrScheduler": str, "window": float,
    "bandwidthMhz": float, "rlcBuffer": int, "gnbTxPower": float, "ran": str,
    "loadUsers": int, "loadMbps": float, "loadOnS": float, "loadOffS": float, "mobility": str,
    "blockageRate": float, "blockageS": float, "blockageDb": float,
}

#: XRScenario fields passed to the xr-codec simulator as ns-3 CommandLine values.
SCENARIO_FLAGS: dict[str, str] = {
    "ring_m": "ringRadius",
    "min_distance_m": "minDistance",
    "n_rates": "nRates",
    "actions": "actions",  # discrete or continuous codec rates (issue 15)
    "window_s": "stepInterval",
    "episode_limit": "episodeLimit",
    "fps": "fps",
    "frame_size_std_frac": "sizeStdFrac",
    "frame_jitter_std_ms": "jitterStdMs",
    "frame_jitter_bound_ms": "jitterBoundMs",
    "mtu_bytes": "mtu",
    "rlc_buffer_bytes": "rlcBufferBytes",
    "ue_speed_mps": "ueSpeed",
    "carrier_ghz": "frequencyGhz",
    "gnb_tx_dbm": "enbTxDbm",
    "ue_tx_dbm": "ueTxDbm",
    "gnb_noise_figure_db": "enbNoiseFigure",
    "ue_noise_figure_db": "ueNoiseFigure",
    "gnb_height_m": "enbHeight",
    "ue_height_m": "ueHeight",
    # issue-14 dynamics (xr-dynamics.h), off by default
    "load_users": "loadUsers",
    "load_mbps": "loadMbps",
    "load_on_s": "loadOnS",
    "load_off_s": "loadOffS",
    "mobility": "mobility",
    "blockage_rate_hz": "blockageRate",
    "blockage_s": "blockageS",
    "blockage_db": "blockageDb",
}
#: Option -> the XRScenario field it sets (the simulator's aliases included).
_FIELD_OF: dict[str, str] = {
    **{flag: f for f, flag in SCENARIO_FLAGS.items()},
    "window": "window_s", "rlcBuffer": "rlc_buffer_bytes", "gnbTxPower": "gnb_tx_dbm",
    "bandwidthMhz": "bandwidth_mhz", "ran": "ran",
}
#: Options xr-marl sets itself, and the flag to use instead.
_SET_BY_XR_MARL: dict[str, str] = {
    "ringRadius": "--ring", "endpoint": "--endpoint", "seed": "--seed",
    "run": "--seed (simulator i gets seed + i)", "timeoutMs": "--sim-timeout",
    "identity": "nothing (each simulator gets its own)", "fixedAction": "--policy fixed:K",
}
#: Codec-range options of the three user types.
_RANGE_OPTIONS: dict[str, tuple[str, int]] = {
    f"{t.lower()}{end}": (t, j) for t in ("AR", "VR", "CG") for j, end in enumerate(("Min", "Max"))
}

#: Options that only one RAN reads: refused on the other, which would silently ignore them.
RAN_ONLY: dict[str, str] = {
    "scheduler": "lte", "enbAntennaGainDb": "lte",
    "numerology": "nr", "gnbAntennaRows": "nr", "gnbAntennaCols": "nr", "nrScheduler": "nr",
}

#: LTE channel bandwidths (MHz) and their resource blocks (``LteEnbNetDevice::DlBandwidth``).
LTE_RBS: dict[float, int] = {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}


def users_argument(scenario: XRScenario) -> str:
    """The simulator's ``--users`` value: ``TYPE:MIN:MAX`` per user, ``ID=`` in front of the
    ones whose agent id is not the one the simulator would give them."""
    types = [user_type(u) for u in scenario.users]
    out = []
    for u, t, default_id in zip(scenario.users, types, default_user_ids(types)):
        prefix = "" if u.agent_id == default_id else f"{u.agent_id}="
        out.append(f"{prefix}{t}:{u.rate_min_mbps!r}:{u.rate_max_mbps!r}")
    return ",".join(out)


def scenario_arguments(scenario: XRScenario) -> list[str]:
    """``--name=value`` arguments carrying ``scenario``'s settings to the xr-codec simulator."""
    sc = scenario
    args: dict[str, Any] = {flag: getattr(sc, f) for f, flag in SCENARIO_FLAGS.items()}
    args["sizeMinFrac"], args["sizeMaxFrac"] = sc.frame_size_trunc
    if sc.ran:  # "": the simulator's default (NR where built)
        args["ran"] = sc.ran
    if sc.ran == "lte" and float(sc.bandwidth_mhz) not in LTE_RBS:
        raise ValueError(f"the LTE scenario supports bandwidths {sorted(LTE_RBS)} MHz, "
                         f"got {sc.bandwidth_mhz} (NR takes any: --ran nr)")
    args["bandwidthMhz"] = float(sc.bandwidth_mhz)
    ar = [u for u in sc.users if user_type(u) == "AR"]
    for u in ar:
        if len(u.side_flows_mbps) != 2 or (u.side_flows_mbps, u.side_flow_period_ms) != \
                (ar[0].side_flows_mbps, ar[0].side_flow_period_ms):
            raise ValueError("the xr-codec simulator's AR users share one audio and one pose "
                             f"flow; user {u.agent_id} has side flows {u.side_flows_mbps} Mbps")
    if ar:  # audio, pose/control (5G-LENA's AR preset)
        audio, pose = ar[0].side_flows_mbps
        period = ar[0].side_flow_period_ms
        args["audioMbps"] = audio
        args["audioPeriodMs"] = args["posePeriodMs"] = period
        args["poseBytes"] = round(pose * 1e6 / 8.0 * period / 1e3)
    args["users"] = users_argument(sc)
    for name, value in sc.ns3_args:
        if name not in XR_CODEC_OPTIONS or name in args or name in _SET_BY_XR_MARL \
                or name in _FIELD_OF:
            raise ValueError(f"ns3_args may not set {name!r}: it is not an xr-codec option "
                             "left to pass through (see apply_ns3_args)")
        only = RAN_ONLY.get(name)
        if sc.ran and only and only != sc.ran:
            raise ValueError(f"xr-codec option {name!r} applies to --ran {only} only; this run "
                             f"is {sc.ran}")
        args[name] = value
    return [f"--{k}={v!r}" if isinstance(v, float) else f"--{k}={v}" for k, v in args.items()]


def _value(name: str, text: str) -> Any:
    """``text`` as the option's type (``ValueError`` naming the option if it is not)."""
    kind = XR_CODEC_OPTIONS[name]
    try:
        if kind is bool:
            low = text.lower()
            if low not in ("true", "false", "1", "0"):
                raise ValueError
            return low in ("true", "1")
        return kind(text)
    except ValueError:
        want = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a value")
        raise ValueError(f"--ns3-arg {name}={text}: expected {want}") from None


def apply_ns3_args(scenario: XRScenario, items: Sequence[str]) -> XRScenario:
    """``scenario`` with xr-codec options ``NAME=VALUE`` applied (later ones win).

    Options that stand for a setting (``ueSpeed``, ``rlcBufferBytes``, ``users``, ``arMin``,
    ``bandwidthRbs``, ...) change it; the rest go to ``ns3_args`` unchanged.
    """
    sc = scenario
    extra = dict(sc.ns3_args)
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().removeprefix("--")
        if not sep or not name:
            raise ValueError(f"--ns3-arg expects NAME=VALUE, got {item!r}")
        if name not in XR_CODEC_OPTIONS:
            close = difflib.get_close_matches(name, XR_CODEC_OPTIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown xr-codec option {name!r} in --ns3-arg{hint}; "
                             "`xr-codec --PrintHelp` lists them")
        if name in _SET_BY_XR_MARL:
            raise ValueError(f"--ns3-arg {name} is set by xr-marl; use {_SET_BY_XR_MARL[name]}")
        value = _value(name, text)
        if name in _FIELD_OF:
            f = _FIELD_OF[name]
            sc = replace(sc, **{f: type(getattr(sc, f))(value)})
        elif name == "users":
            sc = replace(sc, users=parse_users(value))
        elif name in _RANGE_OPTIONS:
            kind, j = _RANGE_OPTIONS[name]
            if not any(user_type(u) == kind for u in sc.users):
                raise ValueError(f"--ns3-arg {name}: the scenario has no {kind} user")
            field = ("rate_min_mbps", "rate_max_mbps")[j]
            sc = replace(sc, users=tuple(replace(u, **{field: value}) if user_type(u) == kind
                                         else u for u in sc.users))
        elif name == "bandwidthRbs":
            mhz = {r: m for m, r in LTE_RBS.items()}.get(value)
            if mhz is None:
                raise ValueError(f"--ns3-arg bandwidthRbs={text}: LTE has "
                                 f"{', '.join(map(str, LTE_RBS.values()))} RBs")
            sc = replace(sc, bandwidth_mhz=mhz)
        elif name in ("sizeMinFrac", "sizeMaxFrac"):
            lo, hi = sc.frame_size_trunc
            sc = replace(sc, frame_size_trunc=(value, hi) if name == "sizeMinFrac" else (lo, value))
        else:
            extra.pop(name, None)
            extra[name] = text.lower() if isinstance(value, bool) else text
    return replace(sc, ns3_args=tuple(extra.items())).validate()
