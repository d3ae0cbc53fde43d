"""Rule-based policies and the policy registry (``make_policy``)."""

from __future__ import annotations

from typing import Any, Callable

from xr_codec_marl.env.api import EnvSpec
from xr_codec_marl.baselines.rules import (
    APSConfig, APSPolicy, ConstantPolicy, FixedPolicy, RandomPolicy,
)
from xr_codec_marl.policy import Policy

#: name -> factory(spec, **kwargs). Register your own rule with ``register_policy``.
POLICIES: dict[str, Callable[..., Policy]] = {
    "aps": lambda spec, **kw: APSPolicy(spec, APSConfig(**kw)),
    "max": lambda spec, **kw: FixedPolicy(spec, "max"),
    "min": lambda spec, **kw: FixedPolicy(spec, "min"),
    "random": lambda spec, **kw: RandomPolicy(spec),
}


def register_policy(name: str, factory: Callable[..., Policy]) -> None:
    """Make a rule policy available to ``make_policy`` and the CLI under ``name``."""
    POLICIES[name] = factory


def policy_kind(name: str) -> str | None:
    """``"rule"`` (a registered rule or ``fixed:K``), ``"checkpoint"`` (an existing path) or
    None: what :func:`make_policy` would build from ``name``, known before any spec is."""
    if name in POLICIES or name.startswith("fixed:"):
        return "rule"
    from pathlib import Path

    return "checkpoint" if Path(name).exists() else None


def policy_names() -> list[str]:
    """What ``--policy`` accepts, for error messages and help."""
    return sorted(POLICIES) + ["fixed:K", "CHECKPOINT (path)"]


def make_policy(name: str, spec: EnvSpec, **kwargs: Any) -> Policy:
    """A rule policy by name, ``fixed:K`` (always action K), or a checkpoint path."""
    if name in POLICIES:
        return POLICIES[name](spec, **kwargs)
    if name.startswith("fixed:"):
        from xr_codec_marl.errors import UsageError

        try:
            return ConstantPolicy(spec, int(name.split(":", 1)[1]))
        except ValueError as exc:
            raise UsageError(f"{name!r}: {exc}") from None
    if policy_kind(name) == "checkpoint":
        from xr_codec_marl.learners.checkpoint import load_policy

        return load_policy(name, spec)
    from xr_codec_marl.errors import choice_error

    raise choice_error("policy", name, policy_names())


__all__ = ["APSConfig", "APSPolicy", "ConstantPolicy", "FixedPolicy", "RandomPolicy", "POLICIES", "make_policy", "policy_kind", "policy_names", "register_policy"]
