"""Rule policies and the policy registry (``make_policy``).

What ``--policy NAME`` builds, in order: a rule of the spec's scenario (its
:meth:`~xr_codec_marl.core.scenario.Scenario.policies`), a generic rule
(``max``/``min`` for ordered action spaces, ``random``, ``fixed:K``, ``best-fixed`` — the
constant tuned on separate seeds of the analytic backend —, or one added with
:func:`register_policy`), or a checkpoint path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xr_codec_marl.baselines.rules import ConstantPolicy, FixedPolicy, RandomPolicy
from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.core.registry import find_scenario, get_scenario
from xr_codec_marl.errors import UsageError, choice_error
from xr_codec_marl.policy import Policy

PolicyFactory = Callable[..., Policy]

#: Generic rules: name -> factory(spec, **kwargs). Add your own with ``register_policy``.
POLICIES: dict[str, PolicyFactory] = {
    "max": lambda spec, **kw: FixedPolicy(spec, "max"),
    "min": lambda spec, **kw: FixedPolicy(spec, "min"),
    "random": lambda spec, **kw: RandomPolicy(spec),
    "best-fixed": lambda spec, **kw: _best_constant(spec, **kw),
}


def _best_constant(spec: EnvSpec, **kwargs: Any) -> Policy:
    from xr_codec_marl.baselines.best_constant import BestConstantPolicy

    return BestConstantPolicy(spec, **kwargs)


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make a generic rule available to ``make_policy`` and the CLI under ``name``."""
    POLICIES[name] = factory


def scenario_policies(env: str | None) -> dict[str, PolicyFactory]:
    """The rules ``--policy`` offers for scenario ``env`` (every scenario's when None)."""
    if env is None:
        from xr_codec_marl.core.registry import all_scenarios

        out: dict[str, PolicyFactory] = {}
        for s in all_scenarios():
            out.update(s.policies())
        return {**out, **POLICIES}
    return {**get_scenario(env).policies(), **POLICIES}


def policy_kind(name: str, env: str | None = None) -> str | None:
    """``"rule"`` (a rule of ``env``, generic or ``fixed:K``), ``"checkpoint"`` (an existing
    path) or None: what :func:`make_policy` would build from ``name``, known before any spec."""
    if name in scenario_policies(env) or name.startswith("fixed:"):
        return "rule"
    return "checkpoint" if Path(name).exists() else None


def policy_names(env: str | None = None) -> list[str]:
    """What ``--policy`` accepts for ``env``, for error messages and help."""
    return sorted(scenario_policies(env)) + ["fixed:K", "CHECKPOINT (path)"]


def make_policy(name: str, spec: EnvSpec, **kwargs: Any) -> Policy:
    """A rule policy by name, ``fixed:K`` (always action K), or a checkpoint path."""
    scenario = find_scenario(spec.extra.get("scenario", spec.name))
    own = scenario.policies() if scenario is not None else {}
    factory = own.get(name, POLICIES.get(name))
    if factory is not None:
        try:
            return factory(spec, **kwargs)
        except ValueError as exc:  # a rule that cannot act in this spec: say why, one line
            raise UsageError(str(exc)) from None
    if name.startswith("fixed:"):
        try:
            return ConstantPolicy(spec, int(name.split(":", 1)[1]))
        except ValueError as exc:
            raise UsageError(f"{name!r}: {exc}") from None
    if Path(name).exists():
        from xr_codec_marl.learners.policy import load_policy

        return load_policy(name, spec)
    names = sorted({*own, *POLICIES}) + ["fixed:K", "CHECKPOINT (path)"]
    raise choice_error("policy", name, names)


__all__ = ["ConstantPolicy", "FixedPolicy", "RandomPolicy", "POLICIES", "make_policy",
           "policy_kind", "policy_names", "register_policy", "scenario_policies"]
