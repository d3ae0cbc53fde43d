"""The XR/CG codec adaptation scenario (seed 002) as one registered object.

Each XR user's agent picks its codec rate every 0.5 s window (one of K_o rates, or with
``--actions continuous`` any rate in its range); the team is rewarded on delay, PDR and data
rate (eqs. 15-20); APS is the reference rule. Backends: the analytic twin
(:mod:`.analytic`) and the ns-3 ``xr-codec`` simulator (5G-LENA NR where built, or LTE).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xr_codec_marl.core.api import AgentSpec, EnvSpec, HybridActions, Observation, VecMultiAgentEnv
from xr_codec_marl.core.scenario import PolicyFactory, RuleForm, Scenario, SweepAxis
from xr_codec_marl.errors import UsageError, choice_error
from xr_codec_marl.scenarios.xr import cli
from xr_codec_marl.scenarios.xr.kpis import XR_KPIS, XR_REWARDS
from xr_codec_marl.scenarios.xr.settings import XRScenario


def _ring(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"ring radius must be > 0 m, got {text}")
    return value


class XRCodecScenario(Scenario):
    """XR/CG codec-rate adaptation in one cell: AR, VR and CG users on a ring."""

    name = "xr"
    description = "XR/CG codec-rate adaptation (seed 002): one agent per XR user, APS as reference"
    settings_type = XRScenario
    backends = ("analytic", "ns3")
    backend_options = {"analytic": ("profile", "params")}
    binary = "xr-codec"
    ran_setting = "ran"
    kpis = XR_KPIS
    rewards = XR_REWARDS
    sweep_axes = (
        SweepAxis("ring", "ring_m", _ring, default=(200.0, 300.0, 400.0), label="Ring radius",
                  unit="m", flag="--rings", prefix="ring"),
        SweepAxis("bandwidth", "bandwidth_mhz", float, label="Bandwidth", unit="MHz"),
        SweepAxis("ue_speed", "ue_speed_mps", float, label="UE speed", unit="m/s"),
        SweepAxis("ran", "ran", str, label="RAN", unit=""),
        # issue 14's dynamics (README "Dynamics where codec adaptation matters"); mobility is
        # no axis: cross wants its own speed (--mobility cross, with --axis ue_speed=...)
        SweepAxis("load_users", "load_users", int, label="Background users", unit="",
                  prefix="load"),
        SweepAxis("blockage_rate", "blockage_rate_hz", float, label="Blockage rate", unit="1/s",
                  prefix="block"),
    )
    reference_policy = "aps"
    record_settings = ("ring_m", "ran")
    agent_colours = {"AR": "#9467bd", "VR": "#8c564b", "CG": "#e377c2"}
    report_notes = (
        "Throughput is our addition to the paper's four columns: a policy that simply sends "
        "less wins those four.",
        "The paper's MHA-DQMIX average gains: xr_index 10.7 %, jitter 41.4 %, delay 33.3 %, "
        "plr 67.9 %.",
    )

    def add_arguments(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        cli.add_arguments(parser)

    def kwargs_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        return cli.kwargs_from_args(args)

    def apply_ns3_args(self, kwargs: dict[str, Any], items: Sequence[str]) -> dict[str, Any]:
        return cli.apply_ns3_args(kwargs, items)

    def env_spec(self, settings: XRScenario) -> EnvSpec:
        return settings.env_spec(self.name)

    def make_analytic(self, settings: XRScenario, num_envs: int, seed: int | None,
                      profile: str = "nr", params: Any = None) -> VecMultiAgentEnv:
        from xr_codec_marl.scenarios.xr.analytic import PROFILES, AnalyticXREnv

        if profile not in PROFILES:
            raise choice_error("analytic profile", profile, sorted(PROFILES))
        if settings.ns3_args:  # options the analytic model would silently ignore
            raise UsageError("ns3_args (--ns3-arg) apply to the ns-3 backend only")
        if settings.ran:
            raise UsageError(f"ran {settings.ran!r} applies to the ns-3 backend; the analytic "
                             "model has --analytic-profile (nr, ns3-nr, ns3-lte) instead")
        env = AnalyticXREnv(settings, num_envs=num_envs, params=params or PROFILES[profile])
        if params is None:  # what rules tuning on the twin (best-fixed) rebuild it from
            env.spec.extra["analytic_options"] = {"profile": profile}
        return env

    def analytic_twin(self, spec: EnvSpec) -> tuple[XRScenario, dict[str, Any]]:
        """An ns-3 env's twin is the analytic model calibrated to its RAN (``ns3-nr``,
        ``ns3-lte``), without the simulator-only settings; an analytic env's is itself."""
        from dataclasses import replace

        settings, options = super().analytic_twin(spec)
        if settings.ran or settings.ns3_args:
            options = {"profile": f"ns3-{settings.ran or 'nr'}"}
            settings = replace(settings, ran="", ns3_args=())
        return settings, options

    def ns3_argv(self, settings: XRScenario) -> list[str]:
        from xr_codec_marl.scenarios.xr.ns3_args import scenario_arguments

        return scenario_arguments(settings)

    def ns3_glue(self, spec: EnvSpec, settings: XRScenario):
        from xr_codec_marl.scenarios.xr.glue import KpiFeatures, with_channel_sizes

        channel = settings.observation == "channel"
        if channel and spec.obs_size == spec.n_agents + 2:  # a simulator's (eq. 13) spec
            spec = with_channel_sizes(spec)
        return KpiFeatures(spec, settings.reward_shaping, settings.shaping_gamma, channel=channel)

    def expected_spec(self, overrides: dict[str, Any]) -> EnvSpec:
        """What an xr-codec simulator announces (its Hello names the binary): eq. 13's sizes
        whatever the observation (the glue adds the SINR feature)."""
        settings = self.make_settings(**overrides)
        spec = settings.env_spec(self.binary or self.name)
        return self.ns3_glue(spec, settings).wire_spec()

    def settings_from_record(self, record: Mapping[str, Any]) -> XRScenario:
        from xr_codec_marl.scenarios.xr.settings import UserProfile

        values = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}
        values["users"] = tuple(UserProfile(**{k: tuple(x) if isinstance(x, list) else x
                                               for k, x in u.items()})
                                for u in record.get("users", ()))
        return self.make_settings(**values)

    def policies(self) -> dict[str, PolicyFactory]:
        from xr_codec_marl.scenarios.xr.aps import APSConfig, APSPolicy

        # APS and its sibling with a x1.5 increase (REFERENCE.md §2; AFPS and AIPAT adapt the
        # frame rate, which these actions do not set)
        from xr_codec_marl.scenarios.xr.sinr_fit import SinrFitPolicy

        return {"aps": lambda spec, **kw: APSPolicy(spec, APSConfig(**kw)),
                # channel-aware: rates fitted to the last window's SINR, eta tuned on the twin
                "sinr-fit": lambda spec, **kw: SinrFitPolicy(spec, **kw),
                "aps-x1.5": lambda spec, **kw: APSPolicy(
                    spec, APSConfig(**{"increase_factor": 1.5, **kw}), name="aps-x1.5")}

    def rule_form(self, spec: EnvSpec) -> RuleForm | None:
        """With continuous codec rates (``actions="continuous"``) the rules (APS, sinr-fit,
        fixed:K, best-fixed, ...) choose in the rate table of the same settings (K_o rates,
        ``--n-rates``) and their choice is sent as its rate in Mbps: each rule sends exactly
        the rates it sends with discrete actions, so comparisons hold across both options."""
        from dataclasses import replace

        from xr_codec_marl.scenarios.xr.settings import RATE_DIM

        dims = [a.space.continuous for a in spec.agents]
        if spec.is_discrete or any([d.name for d in c] != [RATE_DIM] for c in dims):
            return None
        record = spec.extra.get("settings") or {}
        # K_o: the settings' (an env's spec), or the simulator's Hello's (serve's spec)
        k = int(record.get("n_rates", spec.extra.get("n_rates", XRScenario.n_rates)))
        table = np.stack([np.linspace(c[0].low, c[0].high, k) for c in dims])  # [N, K] Mbps
        agents = tuple(AgentSpec(a.agent_id, a.kind, a.obs_size, k, tuple(map(float, table[i])))
                       for i, a in enumerate(spec.agents))
        extra = {**spec.extra, **({"settings": {**record, "actions": "discrete"}} if record
                                  else {})}
        rules_spec = replace(spec, agents=agents, extra=extra)
        agent = np.arange(spec.n_agents)

        def observe(step: Observation) -> Observation:
            avail = np.ones((*np.shape(step.avail_actions)[:2], k), bool)  # every rate, always
            return Observation(step.obs, step.state, avail, step.info)

        def to_env(actions: np.ndarray) -> HybridActions:
            index = np.asarray(actions, np.int64)
            rates = table[agent[None, :], index]
            return HybridActions(np.zeros_like(index), rates[..., None])

        return RuleForm(rules_spec, observe, to_env)


XR = XRCodecScenario()
