"""A scenario as one object that tells generic code everything it needs (DESIGN.md §6).

Evaluation, sweeps, comparisons, reports, explanations, ``serve``, ``build-ns3`` and the CLI
read a scenario's settings, CLI arguments, spec, backends, KPI and reward declarations, sweep
axes and rule baselines from its :class:`Scenario` object, found by name in
:mod:`xr_codec_marl.core.registry`. A new scenario subclasses :class:`Scenario`, fills in the
class attributes and the methods its backends need, and registers an instance; no generic
module changes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from xr_codec_marl.core.api import EnvSpec, Observation, VecMultiAgentEnv
from xr_codec_marl.core.kpis import KpiSpec, RewardSpec

#: ``factory(spec, **kwargs) -> Policy``: a rule baseline.
PolicyFactory = Callable[..., Any]


@dataclass(frozen=True)
class SweepAxis:
    """One axis a sweep can vary: a scenario setting and how the CLI names its values.

    ``xr-marl sweep --axis NAME=V1,V2`` (or the scenario's own ``flag`` for it)
    sets ``setting`` to each value; results carry it as a column named ``setting``; cell
    directories are named ``{prefix}{value}``.
    """

    name: str
    setting: str
    parse: Callable[[str], Any] = float
    default: tuple[Any, ...] = ()
    label: str = ""
    unit: str = ""
    #: a flag of its own on ``xr-marl sweep`` ; empty: only ``--axis``
    flag: str = ""
    prefix: str = ""

    @property
    def title(self) -> str:
        base = self.label or self.name
        return f"{base} ({self.unit})" if self.unit else base

    def cell_key(self, value: Any) -> str:
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.prefix or self.name}{text}"


class Ns3Glue(Protocol):
    """Builds observations, state and team rewards from a simulator's raw per-agent KPIs, for
    simulators that send only those (empty ``obs``/``state``/``rewards`` on the wire)."""

    def problems(self) -> list[str]:
        """Why the glue cannot serve this spec (empty: it can)."""
        ...

    def initial_actions(self, kpis: np.ndarray, default: int) -> np.ndarray:
        """The joint action ``[B, N]`` in force before step 0, read from start-up KPIs."""
        ...

    def observe(self, prev_actions: np.ndarray, kpis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``obs [B, N, O]`` and ``state [B, S]`` from KPIs ``[B, N, K]``."""
        ...

    def rewards(self, kpis: np.ndarray, prev_kpis: np.ndarray | None) -> np.ndarray:
        """Team reward components ``[B, C]``."""
        ...

    # Optional: ``wire_spec() -> EnvSpec``, the spec the simulators announce where it differs
    # from the env spec (e.g. the glue adds an observation feature built from a KPI).


def announced_spec(glue: object, spec: EnvSpec) -> EnvSpec:
    """The spec simulators announce for the env ``spec`` served with ``glue``: the glue's
    ``wire_spec()`` where it has one (a translator's raw report, or a glue that builds
    features the simulators do not send), else ``spec`` itself."""
    wire = getattr(glue, "wire_spec", None)
    return wire() if wire is not None else spec


class NoGlue:
    """The glue of a scenario without one: its simulators must send observations, state and
    rewards themselves; building them from KPIs fails, saying so."""

    def problems(self) -> list[str]:
        return ["the scenario has no glue to build them"]

    def initial_actions(self, kpis: np.ndarray, default: int) -> np.ndarray:
        return np.full(kpis.shape[:2], default, dtype=np.int64)

    def observe(self, prev_actions: np.ndarray, kpis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise RuntimeError("the simulator sent no observations and " + self.problems()[0])

    def rewards(self, kpis: np.ndarray, prev_kpis: np.ndarray | None) -> np.ndarray:
        raise RuntimeError("the simulator sent no rewards and " + self.problems()[0])


@dataclass
class Translation:
    """Everything one step returns, built by an :class:`Ns3Translator` from raw state.

    Shapes as the API's (:mod:`xr_codec_marl.core.api`): ``kpis`` are the env spec's
    ``kpi_names``, ``global_kpis`` its ``global_kpi_names``; ``info`` holds the extra
    ``info`` keys the scenario's analytic backend also returns (e.g. what its rules read).
    """

    obs: np.ndarray  # float32 [B, N, O]
    state: np.ndarray  # float32 [B, S]
    avail: np.ndarray  # bool [B, N, A]
    rewards: np.ndarray  # float32 [B, C]
    kpis: np.ndarray  # float32 [B, N, K]
    global_kpis: np.ndarray  # float32 [B, G]
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Ns3Translator(Protocol):
    """Glue for simulators that report their raw state only: the scenario computes every
    output from it with the functions its analytic backend uses, so both backends agree by
    construction. Its simulators announce :meth:`wire_spec`: the env spec whose per-agent
    and global KPI names are the raw report's fields."""

    #: the env spec the outputs follow (what agents and policies see)
    spec: EnvSpec

    def wire_spec(self) -> EnvSpec:
        """The spec the simulators announce (raw ``kpi_names`` and ``global_kpi_names``)."""
        ...

    def problems(self) -> list[str]:
        """Why this glue cannot serve its settings (empty: it can)."""
        ...

    def translate(self, kpis_raw: np.ndarray, global_raw: np.ndarray, measured: np.ndarray,
                  decision_ms: float, first: bool,
                  sim_time_s: np.ndarray | None = None) -> Translation:
        """The step's outputs from raw reports ``kpis_raw [B, N, Kw]`` and ``global_raw
        [B, Gw]`` (the wire spec's names). ``measured [B]``: which workers reported this
        time (the others' rows repeat their last report; the caller keeps their last
        outputs); ``decision_ms``: the agents' decision time before this step; ``first``:
        the start-up report, whose KPIs and rewards are zeros as an analytic reset's (its
        observations, state, available actions and info are real); ``sim_time_s [B]``: the
        simulators' clocks (None: unknown)."""
        ...


@dataclass(frozen=True)
class RuleForm:
    """Another form of an env's action space that rules choose in (e.g. the discrete table of
    a choice the env offers as a continuous value): ``spec``, the env spec in that form (the
    rules are built for it; its recorded settings are that form's, for rules that tune
    themselves on the analytic twin); ``observe``, a step as the rules see it (e.g. that
    form's available actions); ``to_env``, the rules' joint actions ``[B, N]`` as the env's
    actions."""

    spec: EnvSpec
    observe: Callable[[Observation], Observation]
    to_env: Callable[[np.ndarray], Any]


class Scenario:
    """Base class of every scenario. Subclasses set the class attributes and override what
    their backends need; the defaults describe a scenario with an analytic backend only."""

    #: registry name, ``--env NAME``
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: the settings dataclass (frozen); its fields are the scenario's settings
    settings_type: ClassVar[type] = type(None)
    backends: ClassVar[tuple[str, ...]] = ("analytic",)
    #: options a backend accepts beside the settings (e.g. the analytic model's ``profile``)
    backend_options: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: the ns-3 executable of the ``ns3`` backend (built by ``xr-marl build-ns3``)
    binary: ClassVar[str | None] = None
    #: other executables of the scenario's C++ build (checks of its parts), built beside it
    ns3_tools: ClassVar[tuple[str, ...]] = ()
    #: the settings field choosing the simulator's radio access network ("nr" or "lte", the
    #: common C++ RAN's ``--ran``); its empty value means the build's default (see
    #: :func:`xr_codec_marl.env.factory.ns3_settings`). None: the scenario has no such choice.
    ran_setting: ClassVar[str | None] = None
    kpis: ClassVar[tuple[KpiSpec, ...]] = ()
    rewards: ClassVar[tuple[RewardSpec, ...]] = ()
    sweep_axes: ClassVar[tuple[SweepAxis, ...]] = ()
    #: the policy learners are compared against and explanations are driven by
    reference_policy: ClassVar[str | None] = None
    #: settings copied to the top level of results (e.g. its main sweep axis)
    record_settings: ClassVar[tuple[str, ...]] = ()
    #: colours of agents (by id or kind) in figures; others get the default cycle
    agent_colours: ClassVar[Mapping[str, str]] = {}
    #: sentences the sweep report prints under its comparison (what to read it against)
    report_notes: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ settings
    def setting_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.settings_type)) if is_dataclass(self.settings_type) else ()

    def make_settings(self, **values: Any) -> Any:
        """Validated settings (``ValueError`` naming the first bad one)."""
        unknown = sorted(set(values) - set(self.setting_names()))
        if unknown:
            raise ValueError(f"unknown setting(s) for scenario {self.name!r}: {', '.join(unknown)}")
        settings = self.settings_type(**values)
        validate = getattr(settings, "validate", None)
        return validate() if callable(validate) else settings

    # ------------------------------------------------------------------ CLI
    def add_arguments(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        """The scenario's own flags on every command that builds its environment."""

    def kwargs_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        """Settings and backend options (for ``make_env``) from the parsed flags of
        :meth:`add_arguments`; ``UsageError`` for bad combinations."""
        return {}

    def apply_ns3_args(self, kwargs: dict[str, Any], items: Sequence[str]) -> dict[str, Any]:
        """Fold ``--ns3-arg NAME=VALUE`` items into ``kwargs`` (settings they stand for, or raw
        simulator options); ``ValueError`` for options the simulator does not have."""
        raise ValueError(f"scenario {self.name!r} takes no --ns3-arg")

    # ------------------------------------------------------------------ spec and backends
    def env_spec(self, settings: Any) -> EnvSpec:
        raise NotImplementedError

    def make_analytic(self, settings: Any, num_envs: int, seed: int | None,
                      **options: Any) -> VecMultiAgentEnv:
        raise NotImplementedError(f"scenario {self.name!r} has no analytic backend")

    def make_backend(self, backend: str, settings: Any, num_envs: int, seed: int | None,
                     **options: Any) -> VecMultiAgentEnv:
        """Backends other than ``analytic`` and the generic ``ns3`` one."""
        raise NotImplementedError(f"scenario {self.name!r} has no {backend!r} backend")

    def ns3_argv(self, settings: Any) -> list[str]:
        """The simulator arguments that carry the settings (after the standard ones)."""
        return []

    def ns3_glue(self, spec: EnvSpec, settings: Any) -> Ns3Glue | Ns3Translator | None:
        """Glue for simulators that send raw KPIs (:class:`Ns3Glue`) or raw state
        (:class:`Ns3Translator`) only; None: they must send everything."""
        return None

    def settings_from_record(self, record: Mapping[str, Any]) -> Any:
        """Settings back from their recorded form (``spec.extra["settings"]``, a result's
        ``settings``: lists for tuples); scenarios with nested settings override it."""
        return self.make_settings(**{k: tuple(v) if isinstance(v, list) else v
                                     for k, v in record.items()})

    def analytic_twin(self, spec: EnvSpec) -> tuple[Any, dict[str, Any]]:
        """The settings and analytic-backend options of the analytic model that stands for
        the env ``spec`` describes (its recorded settings; the options its analytic env
        recorded in ``spec.extra["analytic_options"]``). Scenarios whose ns-3 settings the
        analytic model refuses (a RAN, say) override it to map them onto their calibrated
        twin. Used by rules that tune themselves on the analytic model (``best-fixed``)."""
        raw = dict(spec.extra.get("settings", {}))
        if not raw:
            raise ValueError(f"{spec.name!r} carries no scenario settings to build its "
                             "analytic twin from")
        return self.settings_from_record(raw), dict(spec.extra.get("analytic_options", {}))

    def expected_spec(self, overrides: Mapping[str, Any]) -> EnvSpec:
        """The spec simulators must announce to ``serve`` given some settings (the glue's
        wire spec where it has one: :func:`announced_spec`)."""
        settings = self.make_settings(**overrides)
        spec = self.env_spec(settings)
        return announced_spec(self.ns3_glue(spec, settings), spec)

    # ------------------------------------------------------------------ policies
    def policies(self) -> dict[str, PolicyFactory]:
        """The scenario's rule baselines, by name (generic rules are added by the registry)."""
        return {}

    def rule_form(self, spec: EnvSpec) -> RuleForm | None:
        """Where the env ``spec`` offers its choice in another form than the one the rules
        (the scenario's and the generic ``fixed:K``, ``best-fixed``, ``max``, ...) choose in:
        that form, which ``make_policy`` builds them for and translates. None: the rules act
        on ``spec`` itself."""
        return None

