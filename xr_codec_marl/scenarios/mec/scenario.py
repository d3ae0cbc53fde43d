"""The multi-MEC task-offloading scenario (seeds 000 and 001) as one registered object.

``--env mec --preset multi-mec`` (default): N device agents offload their tasks (fully or
partly, at a power level) to K MEC servers or run them locally. ``--preset aiot``: 25
edge-node agents run, forward or reject the tasks of 50 IoT devices. Backend: the analytic
twin (:mod:`.analytic`), or ``--backend ns3``: the packet-level ``mec-offload`` simulator
(multi-mec), whose raw state the glue (:mod:`.glue`) turns into what the twin returns.
"""

from __future__ import annotations

import argparse
from typing import Any

from xr_codec_marl.core.api import AgentSpec, EnvSpec, VecMultiAgentEnv
from xr_codec_marl.core.argtypes import nonnegative_float, positive_float, positive_int
from xr_codec_marl.core.scenario import PolicyFactory, Scenario, SweepAxis
from xr_codec_marl.errors import UsageError
from xr_codec_marl.scenarios.mec import observation
from xr_codec_marl.scenarios.mec.actions import discrete_space, hybrid_space
from xr_codec_marl.scenarios.mec.kpis import (MEC_AGENT_KPI_NAMES, MEC_GLOBAL_KPI_NAMES, MEC_KPIS,
                                              MEC_REWARDS)
from xr_codec_marl.scenarios.mec.settings import (ON_FAILURE, PRESETS, PRIORITISATIONS,
                                                  QUEUE_DISCIPLINES, RADIOS, REWARD_COMPONENTS,
                                                  REWARD_PRESETS, TWINS, VARIANTS, MECSettings,
                                                  preset)


class _BadValue(ValueError, argparse.ArgumentTypeError):
    """A bad flag value: argparse prints its message (a plain ValueError's it would replace
    with a generic one); sweeps, which parse axis values too, catch it as a ValueError."""


def _choice(name: str, allowed: tuple[str, ...]):
    def parse(text: str) -> str:
        if text not in allowed:
            raise _BadValue(f"unknown {name} {text!r}; allowed: {', '.join(allowed)}")
        return text
    parse.__name__ = name
    return parse


def _reward_weights(text: str) -> tuple[float, ...]:
    """A named weighting (seed000, seed001, equal) or five numbers ``c,d,e,a,f``."""
    if text in REWARD_PRESETS:
        return REWARD_PRESETS[text]
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != len(REWARD_COMPONENTS) or any(v < 0 for v in values):
        raise _BadValue(f"reward weights must be one of {', '.join(REWARD_PRESETS)} or "
                         f"{len(REWARD_COMPONENTS)} numbers >= 0 "
                         f"({','.join(REWARD_COMPONENTS)}), got {text!r}")
    return values


#: flag -> (setting, parser, help)
_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--preset": ("preset", _choice("preset", PRESETS),
                 "multi-mec (seed 001: device agents, default) or aiot (seed 000: 25 nodes)"),
    "--variant": ("variant", _choice("variant", VARIANTS), "stable (default), load-peaks, "
                  "failures or heterogeneous (seed 000's four scenarios)"),
    "--devices": ("devices", positive_int, "N devices (multi-mec default 50; aiot 50)"),
    "--servers": ("servers", positive_int, "K MEC servers / aiot edge nodes (default 9 / 25)"),
    "--arrival-rate": ("arrival_rate_hz", nonnegative_float,
                       "Poisson task arrivals per device per second (default 1)"),
    "--decision-step": ("decision_step_s", positive_float,
                        "seconds between decisions (multi-mec 0.1, aiot 0.2)"),
    "--queue": ("queue", _choice("queue", QUEUE_DISCIPLINES),
                "server compute queues: fifo (default) or ps (processor sharing)"),
    "--on-failure": ("on_failure", _choice("on_failure", ON_FAILURE),
                     "tasks on a failed server: lose (default) or requeue"),
    "--mtbf": ("mtbf_s", positive_float, "mean time between server failures, s (default 60)"),
    "--mttr": ("mttr_s", nonnegative_float, "mean time to repair, s (default 5)"),
    "--prioritisation": ("prioritisation", _choice("prioritisation", PRIORITISATIONS),
                         "which waiting task is decided first: none (oldest), deadline, "
                         "resource, sla or combined (seed 001's score)"),
    "--reward-weights": ("reward_weights", _reward_weights,
                         "seed000, seed001, equal, or 5 weights c,d,e,a,f for (completion, "
                         "deadline, energy, aoi, fairness)"),
    "--actions": ("actions", _choice("actions", ("discrete", "hybrid")),
                  "multi-mec action space: discrete (target x fraction x power levels, default) "
                  "or hybrid (target head + continuous fraction and power)"),
    "--interference-dbm": ("interference_dbm", float, "other-cell interference per device, dBm"),
    "--observation": ("observation", _choice("observation", ("seed", "full")),
                      "aiot observation: seed (5 features, default) or full (+ every node)"),
    "--ran": ("ran", _choice("ran", ("nr", "lte")),
              "ns-3 backend: nr (5G-LENA, the default where built) or lte"),
    "--cells": ("cells", positive_int, "base stations of the ns-3 network (default 1)"),
    "--cell-radius": ("cell_radius_m", positive_float,
                      "devices lie within this of their base station, m (default 250)"),
    "--radio": ("radio", _choice("radio", RADIOS), "the twin's radio: per-server (the seeds' "
                "cell per server, default) or cells (the ns-3 network; see --twin)"),
    "--rate-efficiency": ("rate_efficiency", positive_float,
                          "twin: share of Shannon's uplink rate achieved (default 1)"),
    "--max-se": ("max_se_bps_hz", nonnegative_float,
                 "twin: cap on the uplink's spectral efficiency, bit/s/Hz (0: none)"),
}


class MECScenario(Scenario):
    """Multi-MEC task offloading: device agents (multi-mec) or edge-node agents (aiot)."""

    name = "mec"
    description = ("multi-MEC task offloading (seeds 000/001): local, partial or full "
                   "offload to K edge servers; or aiot edge nodes run/forward/reject")
    settings_type = MECSettings
    backends = ("analytic", "ns3")
    binary = "mec-offload"
    ns3_tools = ("mec-server-check",)
    ran_setting = "ran"
    kpis = MEC_KPIS
    rewards = MEC_REWARDS
    sweep_axes = (
        SweepAxis("preset", "preset", _choice("preset", PRESETS), label="Preset"),
        SweepAxis("variant", "variant", _choice("variant", VARIANTS), default=VARIANTS,
                  label="Variant"),
        SweepAxis("devices", "devices", int, label="Devices N", prefix="n"),
        SweepAxis("servers", "servers", int, default=(3, 6, 9, 12, 15, 18), label="Servers K",
                  prefix="k"),
        SweepAxis("arrival_rate", "arrival_rate_hz", float, label="Arrival rate", unit="1/s",
                  prefix="rate"),
        SweepAxis("prioritisation", "prioritisation", _choice("prioritisation", PRIORITISATIONS),
                  label="Prioritisation"),
        SweepAxis("queue", "queue", _choice("queue", QUEUE_DISCIPLINES), label="Queue"),
    )
    reference_policy = "vcg"
    record_settings = ("preset", "variant", "devices", "servers", "arrival_rate_hz")
    agent_colours = {"device": "#1f77b4", "node": "#2ca02c"}
    report_notes = (
        "A ratio KPI (completion, deadline, rejected, dropped %) is over the episode's resolved "
        "tasks; response time over its completed ones.",
        "Seed 001 claims 99.0 % completion and 14.2 ms latency (IMAPPO, N = 50, K = 9); seed "
        "000 claims 4.8 s mean response, 87.3 % deadline compliance, Jain 0.85, 6.2 % rejected "
        "(QMIX, 25 nodes). Their models are not ours: read them as claims.",
    )

    # ------------------------------------------------------------------ settings
    def make_settings(self, **values: Any) -> MECSettings:
        """A preset's settings with ``values`` applied (the preset's own defaults first)."""
        name = values.pop("preset", "multi-mec")
        return preset(name, **values)

    def add_arguments(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        for flag, (_, parse, text) in _FLAGS.items():
            parser.add_argument(flag, type=parse, default=None, help=text)
        parser.add_argument("--drop-late", action="store_true",
                            help="drop a task at its deadline instead of finishing it late")
        parser.add_argument("--twin", choices=tuple(TWINS), default=None,
                            help="the twin's radio in one word: seeds (a cell per server, "
                            "Shannon's rate) or ns3-lte (the ns-3 network, calibrated against "
                            "it: benchmarks/results/mec_calibration.md); flags given win")

    def kwargs_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        for flag, (setting, _, _) in _FLAGS.items():
            value = getattr(args, flag[2:].replace("-", "_"), None)
            if value is not None:
                kw[setting] = value
        if getattr(args, "drop_late", False):
            kw["drop_late"] = True
        twin = getattr(args, "twin", None)
        if twin is not None:
            kw = {**TWINS[twin], **kw}
        try:
            self.make_settings(**kw)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return kw

    # ------------------------------------------------------------------ spec and backend
    def env_spec(self, settings: MECSettings) -> EnvSpec:
        s = settings
        space = hybrid_space(s) if s.actions == "hybrid" else discrete_space(s)
        kind = "device" if s.preset == "multi-mec" else "node"
        ids = [f"dev{i}" for i in range(s.devices)] if kind == "device" else \
            [f"node{j}" for j in range(s.servers)]
        agents = tuple(AgentSpec(i, kind, observation.obs_size(s), space.n_joint,
                                 action_space=space)
                       for i in ids)
        return EnvSpec(
            name=self.name, agents=agents, state_size=observation.state_size(s),
            reward_components=REWARD_COMPONENTS, kpi_names=MEC_AGENT_KPI_NAMES,
            step_interval_s=s.decision_step_s, episode_limit=s.episode_limit,
            extra={"settings": s.to_dict(), "scenario": self.name},
            global_kpi_names=MEC_GLOBAL_KPI_NAMES, kpis=MEC_KPIS, rewards=MEC_REWARDS)

    def make_analytic(self, settings: MECSettings, num_envs: int, seed: int | None,
                      **options: Any) -> VecMultiAgentEnv:
        from xr_codec_marl.scenarios.mec.analytic import AnalyticMECEnv

        if options:
            raise UsageError(f"the mec analytic backend takes no options, got {sorted(options)}")
        return AnalyticMECEnv(settings, self.env_spec(settings), num_envs)

    def ns3_argv(self, settings: MECSettings) -> list[str]:
        from xr_codec_marl.scenarios.mec.ns3_args import scenario_arguments

        return scenario_arguments(settings)

    def ns3_glue(self, spec: EnvSpec, settings: MECSettings) -> Any:
        from xr_codec_marl.scenarios.mec.glue import MecGlue

        return MecGlue(spec, settings)

    # ------------------------------------------------------------------ policies
    def policies(self) -> dict[str, PolicyFactory]:
        from xr_codec_marl.scenarios.mec.rules import RULES

        return dict(RULES)
