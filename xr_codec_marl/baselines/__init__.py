"""Rule policies and the policy registry (``make_policy``).

What ``--policy NAME`` builds, in order: a rule of the spec's scenario (its
:meth:`~xr_codec_marl.core.scenario.Scenario.policies`), a generic rule
(``max``/``min`` for ordered action spaces, ``random``, ``fixed:K``, ``best-fixed`` — the
constant tuned on separate seeds of the analytic backend —, or one added with
:func:`register_policy`), or a checkpoint path. Where the scenario says the env offers its
choice in another form than the one rules choose in (:meth:`Scenario.rule_form`, e.g. a
continuous value of a discrete table), the rule is built for that form and translated
(:class:`FormRule`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xr_codec_marl.baselines.rules import ConstantPolicy, FixedPolicy, RandomPolicy
from xr_codec_marl.core.api import EnvSpec, Observation
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


class FormRule:
    """A rule built for another form of the env's action space (:class:`RuleForm`) acting in
    the env's own: it sees each step in that form and its actions are translated. Its name and
    attributes are the rule's."""

    def __init__(self, rule: Policy, spec: EnvSpec, form: Any) -> None:
        self.rule, self.spec, self.form = rule, spec, form
        self.name = rule.name

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        self.rule.reset(num_envs, seed)

    def act(self, step: Observation, explore: bool = False) -> Any:
        return self.form.to_env(self.rule.act(self.form.observe(step), explore))

    def __getattr__(self, name: str) -> Any:  # the rule's own facts (best-fixed's k, ...)
        if name == "rule":
            raise AttributeError(name)
        return getattr(self.rule, name)


def make_policy(name: str, spec: EnvSpec, **kwargs: Any) -> Policy:
    """A rule policy by name, ``fixed:K`` (always action K), or a checkpoint path."""
    scenario = find_scenario(spec.extra.get("scenario", spec.name))
    own = scenario.policies() if scenario is not None else {}
    factory = own.get(name, POLICIES.get(name))
    if factory is not None or name.startswith("fixed:"):
        form = scenario.rule_form(spec) if scenario is not None else None
        rule_spec = spec if form is None else form.spec
        try:
            rule = factory(rule_spec, **kwargs) if factory is not None else \
                ConstantPolicy(rule_spec, int(name.split(":", 1)[1]))
        except ValueError as exc:  # a rule that cannot act in this spec: say why, one line
            raise UsageError(str(exc) if factory is not None else f"{name!r}: {exc}") from None
        return rule if form is None else FormRule(rule, spec, form)
    if Path(name).exists():
        from xr_codec_marl.learners.policy import load_policy

        return load_policy(name, spec)
    names = sorted({*own, *POLICIES}) + ["fixed:K", "CHECKPOINT (path)"]
    raise choice_error("policy", name, names)


__all__ = ["ConstantPolicy", "FixedPolicy", "FormRule", "RandomPolicy", "POLICIES", "make_policy",
           "policy_kind", "policy_names", "register_policy", "scenario_policies"]
