"""``make_env(env, backend, ...)``: any registered scenario on any of its backends.

Settings (the scenario's settings fields) and backend options are keyword arguments; the
scenario registry (:mod:`xr_codec_marl.core.registry`) says which scenario has which. The
``ns3`` backend is generic: the scenario names its binary, its argv and its KPI glue, and
:class:`~xr_codec_marl.env.ns3_env.Ns3Env` runs the sessions.
"""

from __future__ import annotations

from typing import Any

from xr_codec_marl.core.api import EnvSpec, VecMultiAgentEnv
from xr_codec_marl.core.registry import get_scenario
from xr_codec_marl.core.scenario import Scenario
from xr_codec_marl.errors import UsageError, choice_error

#: Options of the generic ns-3 backend (beside the scenario's settings).
NS3_OPTIONS: tuple[str, ...] = ("workers", "endpoint", "attach", "sim_timeout_s",
                                "connect_timeout_s", "log_dir")


def check_env_backend(env: str, backend: str) -> Scenario:
    """The scenario, or ``UsageError`` naming the allowed values."""
    scenario = get_scenario(env)
    if backend not in scenario.backends:
        raise choice_error(f"backend for env {env!r}", backend, list(scenario.backends))
    return scenario


def split_kwargs(scenario: Scenario, backend: str,
                 kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings, backend options)``; ``UsageError`` naming whatever is neither."""
    names = set(scenario.setting_names())
    allowed = set(scenario.backend_options.get(backend, ()))
    if backend == "ns3":
        allowed |= set(NS3_OPTIONS)
    settings = {k: v for k, v in kwargs.items() if k in names}
    options = {k: v for k, v in kwargs.items() if k in allowed and k not in names}
    unknown = sorted(set(kwargs) - set(settings) - set(options))
    if unknown:
        raise UsageError(f"unknown setting(s) for the {backend} {scenario.name} env: "
                         f"{', '.join(unknown)}")
    return settings, options


def ns3_settings(scenario: Scenario, settings: Any) -> Any:
    """``settings`` as the ``ns3`` backend runs them: an unset RAN (the scenario's
    ``ran_setting``) becomes the build's default, NR where ``build-ns3`` linked 5G-LENA, else
    LTE, so specs and results record the RAN that produced them."""
    field = scenario.ran_setting
    if field is None or getattr(settings, field):
        return settings
    from dataclasses import replace

    from xr_codec_marl.bridge.build import default_ran

    return replace(settings, **{field: default_ran()})


def scenario_ns3_env(scenario: Scenario, settings: Any, **kwargs: Any) -> VecMultiAgentEnv:
    """``Ns3Env`` for ``scenario`` with ``settings`` (RAN: the build's default where unset):
    its binary, arguments and glue unless ``kwargs`` give them (``spec``, ``binary``,
    ``scenario_args``, ``glue``); the other ``kwargs`` go to :class:`Ns3Env`. For code that
    builds the env directly (tests, benchmarks); commands go through :func:`make_env`."""
    from xr_codec_marl.env.ns3_env import Ns3Env

    settings = ns3_settings(scenario, settings)
    spec = kwargs.pop("spec", None) or scenario.env_spec(settings)
    kwargs.setdefault("binary", scenario.binary)
    kwargs.setdefault("scenario_args", scenario.ns3_argv(settings))
    kwargs.setdefault("glue", scenario.ns3_glue(spec, settings))
    return Ns3Env(spec, **kwargs)


def make_settings(scenario: Scenario, settings: dict[str, Any]) -> Any:
    try:
        return scenario.make_settings(**settings)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from exc


def make_env(
    env: str = "xr",
    backend: str = "analytic",
    num_envs: int = 1,
    seed: int | None = None,
    **kwargs: Any,
) -> VecMultiAgentEnv:
    """Build a vectorised environment; bad names or values raise ``UsageError``."""
    scenario = check_env_backend(env, backend)
    if num_envs < 1:
        raise UsageError(f"number of environments must be >= 1, got {num_envs}")
    settings_kw, options = split_kwargs(scenario, backend, kwargs)
    settings = make_settings(scenario, settings_kw)
    try:
        if backend == "analytic":
            return scenario.make_analytic(settings, num_envs, seed, **options)
        if backend == "ns3":
            return _ns3(scenario, settings, num_envs, **options)
        return scenario.make_backend(backend, settings, num_envs, seed, **options)
    except ValueError as exc:  # settings the scenario refused: a usage problem, one line
        if isinstance(exc, UsageError):
            raise
        raise UsageError(str(exc)) from exc


def env_spec(env: str = "xr", backend: str = "analytic", **kwargs: Any) -> EnvSpec:
    """The spec an environment would have, without starting it (no simulators launched)."""
    scenario = check_env_backend(env, backend)
    settings_kw, _ = split_kwargs(scenario, backend, kwargs)
    settings = make_settings(scenario, settings_kw)
    try:
        return scenario.env_spec(ns3_settings(scenario, settings) if backend == "ns3" else settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _ns3(scenario: Scenario, settings: Any, num_envs: int, workers: int | None = None,
         endpoint: str | None = None, attach: bool = False, sim_timeout_s: float = 30.0,
         connect_timeout_s: float | None = None, log_dir: str | None = None) -> VecMultiAgentEnv:
    """The live ns-3 backend: ``num_envs`` simulator processes (workers) per batch.

    ``attach=True`` waits for simulators started elsewhere (e.g. another container) to
    connect to ``endpoint`` instead of launching them.
    """
    if scenario.binary is None:
        raise UsageError(f"scenario {scenario.name!r} has no ns-3 binary")
    if not attach:
        from xr_codec_marl.bridge.build import find_binary

        try:
            find_binary(scenario.binary)
        except FileNotFoundError as exc:  # not built yet: say how, in one line
            raise UsageError(str(exc)) from None
    return scenario_ns3_env(
        scenario, settings, workers=num_envs, launch=not attach, endpoint=endpoint,
        timeout_s=float(sim_timeout_s),
        connect_timeout_s=float(connect_timeout_s or (120.0 if attach else 60.0)),
        log_dir=log_dir,
    )
