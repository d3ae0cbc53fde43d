"""Environment registry: ``make_env(env, backend, ...)`` builds any registered backend.

A new scenario or backend plugs in with ``register_env(env, backend, factory)``; the CLI,
runners and sweeps then accept it by name. Imports of heavy backends are lazy.
"""

from __future__ import annotations

from typing import Any, Callable

from xr_codec_marl.env.api import EnvSpec, VecMultiAgentEnv
from xr_codec_marl.errors import UsageError, choice_error

EnvFactory = Callable[..., VecMultiAgentEnv]
_REGISTRY: dict[tuple[str, str], EnvFactory] = {}


def register_env(env: str, backend: str, factory: EnvFactory) -> None:
    """Register ``factory(num_envs=..., ring_m=..., seed=..., **kw)`` for ``(env, backend)``."""
    _REGISTRY[(env, backend)] = factory


def env_names() -> list[str]:
    return sorted({e for e, _ in _REGISTRY})


def backend_names(env: str | None = None) -> list[str]:
    return sorted({b for e, b in _REGISTRY if env is None or e == env})


def check_env_backend(env: str, backend: str) -> None:
    """``UsageError`` naming the allowed values unless ``(env, backend)`` is registered."""
    if env not in env_names():
        raise choice_error("env", env, env_names())
    if (env, backend) not in _REGISTRY:
        raise choice_error(f"backend for env {env!r}", backend, backend_names(env))


def make_env(
    env: str = "xr",
    backend: str = "analytic",
    num_envs: int = 1,
    ring_m: float = 400.0,
    seed: int | None = None,
    **kwargs: Any,
) -> VecMultiAgentEnv:
    """Build a vectorised environment; bad names or values raise ``UsageError``."""
    check_env_backend(env, backend)
    if num_envs < 1:
        raise UsageError(f"number of environments must be >= 1, got {num_envs}")
    try:
        return _REGISTRY[(env, backend)](num_envs=num_envs, ring_m=ring_m, seed=seed, **kwargs)
    except ValueError as exc:  # settings the scenario refused: a usage problem, one line
        if isinstance(exc, UsageError):
            raise
        raise UsageError(str(exc)) from exc


def env_spec(
    env: str = "xr", backend: str = "analytic", ring_m: float = 400.0, **kwargs: Any
) -> EnvSpec:
    """The spec an environment would have, without starting it (no simulators launched).

    The XR scenario's spec depends only on its settings, whatever the backend; other envs
    are built once with a single copy to read it.
    """
    if env == "xr":
        from xr_codec_marl.xr.scenario import XRScenario, scenario_field_names

        scen_kw = {k: v for k, v in kwargs.items() if k in scenario_field_names()}
        try:
            return XRScenario(ring_m=ring_m, **scen_kw).validate().env_spec()
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    probe = make_env(env, backend, 1, ring_m, **kwargs)
    try:
        return probe.spec
    finally:
        probe.close()


def _xr_analytic(num_envs: int, ring_m: float, seed: int | None = None, **kw: Any) -> VecMultiAgentEnv:
    from xr_codec_marl.env.analytic_xr import PROFILES, AnalyticXREnv
    from xr_codec_marl.xr.scenario import XRScenario, scenario_field_names

    scen_kw = {k: kw.pop(k) for k in list(kw) if k in scenario_field_names()}
    profile = kw.pop("profile", "nr")
    if profile not in PROFILES:
        raise choice_error("analytic profile", profile, sorted(PROFILES))
    params = kw.pop("params", None) or PROFILES[profile]
    if scen_kw.get("ns3_args"):  # options the analytic model would silently ignore
        raise UsageError("ns3_args (--ns3-arg) apply to the ns-3 backend only")
    scenario = XRScenario(ring_m=ring_m, **scen_kw)
    if kw:
        raise UsageError(f"unknown setting(s) for the analytic XR env: {', '.join(sorted(kw))}")
    return AnalyticXREnv(scenario, num_envs=num_envs, params=params)


register_env("xr", "analytic", _xr_analytic)


def _xr_ns3(num_envs: int, ring_m: float, seed: int | None = None, **kw: Any) -> VecMultiAgentEnv:
    """The live ns-3 backend: ``num_envs`` simulator processes (workers) per batch.

    ``attach=True`` waits for simulators started elsewhere (e.g. another container) to
    connect to ``endpoint`` instead of launching them.
    """
    from xr_codec_marl.env.ns3_env import Ns3Env
    from xr_codec_marl.xr.scenario import XRScenario, scenario_field_names

    kw.pop("workers", None)  # the batch size is the number of simulators
    scen_kw = {k: kw.pop(k) for k in list(kw) if k in scenario_field_names()}
    endpoint = kw.pop("endpoint", None)
    attach = bool(kw.pop("attach", False))
    timeout_s = float(kw.pop("sim_timeout_s", 30.0))
    connect_timeout_s = float(kw.pop("connect_timeout_s", 120.0 if attach else 60.0))
    log_dir = kw.pop("log_dir", None)
    if kw:
        raise UsageError(f"unknown setting(s) for the ns-3 XR env: {', '.join(sorted(kw))}")
    if not attach:
        from xr_codec_marl.bridge.build import find_binary

        try:
            find_binary("xr-codec")
        except FileNotFoundError as exc:  # not built yet: say how, in one line
            raise UsageError(str(exc)) from None
    return Ns3Env(
        XRScenario(ring_m=ring_m, **scen_kw), workers=num_envs, launch=not attach,
        endpoint=endpoint, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
        log_dir=log_dir,
    )


register_env("xr", "ns3", _xr_ns3)


def _matrix(num_envs: int, ring_m: float, seed: int | None = None, **kw: Any) -> VecMultiAgentEnv:
    """The small cooperative matrix games (climbing, penalty, ...): ``game=``, ``components=``.

    ``ring_m`` has no meaning here and is ignored.
    """
    from xr_codec_marl.env.matrix_game import GAMES, MatrixGameEnv

    game = kw.pop("game", "climbing")
    if game not in GAMES:
        raise choice_error("matrix game", game, sorted(GAMES))
    env = MatrixGameEnv(game, num_envs=num_envs, components=int(kw.pop("components", 1)),
                        episode_limit=int(kw.pop("episode_limit", 1)))
    if kw:
        raise UsageError(f"unknown setting(s) for the matrix games: {', '.join(sorted(kw))}")
    return env


register_env("matrix", "analytic", _matrix)
