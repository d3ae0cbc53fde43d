"""The bridge wire format: encode, decode and validate ``Envelope`` messages.

Only bytes <-> messages <-> numpy arrays and their sizes live here (no learning maths): a
``Hello`` fixes the shape of everything a simulator will send (:class:`WireLayout`), and every
later ``Step`` or ``Action`` is checked against it. Every problem raises :class:`WireError`
carrying the ``Error.Code`` to send back and a message that says what and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from google.protobuf.message import DecodeError

from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.env.api import AgentSpec, EnvSpec

#: The protocol version this side speaks (``ProtocolVersion.PROTOCOL_VERSION_CURRENT``).
PROTOCOL_VERSION: int = pb.PROTOCOL_VERSION_CURRENT

Code = pb.Error.Code


class WireError(ValueError):
    """A message that breaks the contract; ``code`` is the ``Error.Code`` to reply with."""

    def __init__(self, code: int, message: str, fatal: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal

    def __str__(self) -> str:
        return f"{code_name(self.code)}: {self.message}"

    def to_envelope(self) -> pb.Envelope:
        return error_envelope(self.code, self.message, self.fatal)


def code_name(code: int) -> str:
    """``CODE_SHAPE`` for 4, or ``CODE_<n>`` for a number this side does not know."""
    try:
        return pb.Error.Code.Name(code)
    except ValueError:
        return f"CODE_{code}"


# ---------------------------------------------------------------------------------------------
# bytes <-> Envelope


def decode(data: bytes) -> pb.Envelope:
    """Parse one envelope; garbage or an envelope without a body raises ``CODE_BAD_MESSAGE``."""
    env = pb.Envelope()
    try:
        env.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise WireError(
            Code.CODE_BAD_MESSAGE, f"not a bridge Envelope ({len(data)} bytes): {exc}"
        ) from None
    if env.WhichOneof("body") is None:
        raise WireError(
            Code.CODE_BAD_MESSAGE, f"envelope without a body ({len(data)} bytes)"
        )
    return env


def encode(env: pb.Envelope) -> bytes:
    return env.SerializeToString()


def body_name(env: pb.Envelope) -> str:
    return env.WhichOneof("body") or "<empty>"


def error_envelope(code: int, message: str, fatal: bool = True) -> pb.Envelope:
    return pb.Envelope(error=pb.Error(code=code, message=message, fatal=fatal))


def close_envelope(session_id: str, reason: str) -> pb.Envelope:
    return pb.Envelope(close=pb.Close(session_id=session_id, reason=reason))


def welcome_envelope(session_id: str) -> pb.Envelope:
    return pb.Envelope(welcome=pb.Welcome(session_id=session_id, protocol_version=PROTOCOL_VERSION))


# ---------------------------------------------------------------------------------------------
# Hello <-> EnvSpec


def spec_from_hello(hello: pb.Hello) -> EnvSpec:
    """The environment spec a ``Hello`` announces (reward components may be empty)."""
    agents = tuple(
        AgentSpec(a.id, a.kind, int(a.obs_size), int(a.n_actions), tuple(a.action_values))
        for a in hello.agents
    )
    return EnvSpec(
        name=hello.scenario,
        agents=agents,
        state_size=int(hello.state_size),
        reward_components=tuple(hello.reward_components),
        kpi_names=tuple(hello.kpi_names),
        step_interval_s=float(hello.step_interval_s),
        episode_limit=int(hello.episode_limit),
        extra={"seed": int(hello.seed), "run": int(hello.run), **dict(hello.parameters)},
    )


def hello_from_spec(
    spec: EnvSpec,
    seed: int = 0,
    run: int = 0,
    *,
    send_rewards: bool = True,
    parameters: dict[str, str] | None = None,
    protocol_version: int = PROTOCOL_VERSION,
) -> pb.Hello:
    """A ``Hello`` announcing ``spec`` (what a simulator sends; used by test simulators)."""
    return pb.Hello(
        protocol_version=protocol_version,
        scenario=spec.name,
        seed=seed,
        run=run,
        agents=[
            pb.AgentInfo(
                id=a.agent_id,
                kind=a.kind,
                obs_size=a.obs_size,
                n_actions=a.n_actions,
                action_values=list(a.action_values),
            )
            for a in spec.agents
        ],
        state_size=spec.state_size,
        reward_components=list(spec.reward_components) if send_rewards else [],
        kpi_names=list(spec.kpi_names),
        step_interval_s=spec.step_interval_s,
        episode_limit=spec.episode_limit,
        parameters=parameters or {},
    )


def check_hello(hello: pb.Hello, expected: EnvSpec | None = None) -> None:
    """Refuse a ``Hello`` of another protocol version, an inconsistent one, or one whose spec
    differs from ``expected`` (``CODE_VERSION`` / ``CODE_SHAPE``, every difference listed)."""
    if hello.protocol_version != PROTOCOL_VERSION:
        raise WireError(
            Code.CODE_VERSION,
            f"protocol version {hello.protocol_version} is not supported; "
            f"this server speaks version {PROTOCOL_VERSION}",
        )
    problems: list[str] = []
    if not hello.agents:
        problems.append("no agents")
    for a in hello.agents:
        if a.n_actions < 1:
            problems.append(f"agent {a.id!r} has no actions")
        if a.action_values and len(a.action_values) != a.n_actions:
            problems.append(
                f"agent {a.id!r}: {len(a.action_values)} action values for {a.n_actions} actions"
            )
    if len({a.id for a in hello.agents}) != len(hello.agents):
        problems.append("duplicate agent ids")
    if not (hello.step_interval_s > 0 and math.isfinite(hello.step_interval_s)):
        problems.append(f"step_interval_s must be > 0, got {hello.step_interval_s}")
    if problems:
        raise WireError(Code.CODE_SHAPE, "bad hello: " + "; ".join(problems))
    if expected is not None:
        diffs = spec_differences(spec_from_hello(hello), expected)
        if diffs:
            raise WireError(
                Code.CODE_SHAPE, "hello does not match the expected spec: " + "; ".join(diffs)
            )


def spec_differences(got: EnvSpec, expected: EnvSpec) -> list[str]:
    """Human-readable differences that matter on the wire (empty list: compatible).

    Empty reward components in ``got`` are accepted: the server then computes the rewards.
    """
    d: list[str] = []
    if got.agent_ids != expected.agent_ids:
        d.append(f"agents {list(got.agent_ids)} != expected {list(expected.agent_ids)}")
    else:
        for g, e in zip(got.agents, expected.agents):
            for attr in ("kind", "obs_size", "n_actions"):
                if getattr(g, attr) != getattr(e, attr):
                    d.append(
                        f"agent {g.agent_id} {attr} {getattr(g, attr)!r} != "
                        f"expected {getattr(e, attr)!r}"
                    )
            if g.action_values and e.action_values and not np.allclose(
                g.action_values, e.action_values, rtol=1e-6, atol=1e-9
            ):
                d.append(f"agent {g.agent_id} action values differ from the expected ones")
    if got.state_size != expected.state_size:
        d.append(f"state_size {got.state_size} != expected {expected.state_size}")
    if got.kpi_names != expected.kpi_names:
        d.append(f"kpi_names {list(got.kpi_names)} != expected {list(expected.kpi_names)}")
    if got.reward_components and got.reward_components != expected.reward_components:
        d.append(
            f"reward_components {list(got.reward_components)} != "
            f"expected {list(expected.reward_components)}"
        )
    if not math.isclose(got.step_interval_s, expected.step_interval_s, rel_tol=1e-9):
        d.append(f"step_interval_s {got.step_interval_s} != expected {expected.step_interval_s}")
    if got.episode_limit != expected.episode_limit:
        d.append(f"episode_limit {got.episode_limit} != expected {expected.episode_limit}")
    return d


# ---------------------------------------------------------------------------------------------
# Step / Action against the handshake's sizes


@dataclass(frozen=True)
class WireLayout:
    """Sizes fixed by a ``Hello``: what every ``Step`` and ``Action`` of the session must match.

    Per-agent vectors travel padded to the largest agent (``obs_size``, ``n_actions``),
    row-major by agent, as the API's arrays are.
    """

    n_agents: int
    obs_size: int
    n_actions: int
    agent_actions: tuple[int, ...]
    state_size: int
    n_components: int
    n_kpis: int

    @classmethod
    def from_spec(cls, spec: EnvSpec) -> "WireLayout":
        return cls(
            n_agents=spec.n_agents,
            obs_size=spec.obs_size,
            n_actions=spec.n_actions,
            agent_actions=tuple(a.n_actions for a in spec.agents),
            state_size=spec.state_size,
            n_components=spec.n_components,
            n_kpis=len(spec.kpi_names),
        )

    @cached_property
    def default_avail(self) -> np.ndarray:
        """All of each agent's own actions available, the padding beyond them not (read-only)."""
        avail = np.arange(self.n_actions)[None, :] < np.array(self.agent_actions)[:, None]
        avail.flags.writeable = False
        return avail


@dataclass
class WireStep:
    """One decoded ``Step``: numpy views in API shapes; ``None`` where the sim sent nothing."""

    session_id: str
    step_index: int
    sim_time_s: float
    obs: np.ndarray | None  # float32 [N, obs_size]
    state: np.ndarray | None  # float32 [state_size]
    avail_actions: np.ndarray  # bool [N, n_actions] (all own actions when the sim sent none)
    rewards: np.ndarray | None  # float32 [C]
    kpis: np.ndarray | None  # float32 [N, K]
    terminated: bool
    truncated: bool
    truncation_reason: str

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


def _sized(values, expected: int, what: str, dtype) -> np.ndarray | None:
    """``values`` as an array of length ``expected``, ``None`` if empty; else ``CODE_SHAPE``.

    Floats must be finite (``sum`` of finite float32s cannot overflow a Python float, and any
    inf/nan makes it non-finite: one cheap check on the hot path).
    """
    n = len(values)
    if n == 0:
        return None
    if n != expected:
        raise WireError(Code.CODE_SHAPE, f"step {what} has {n} values, the hello says {expected}")
    if dtype is not bool and not math.isfinite(sum(values)):
        raise WireError(Code.CODE_SHAPE, f"step {what} contains non-finite values")
    return np.fromiter(values, dtype, n)


def decode_step(step: pb.Step, layout: WireLayout) -> WireStep:
    """Check a ``Step``'s sizes against the handshake and convert it to numpy.

    ``obs``/``state``/``rewards`` may be empty (the server then builds them from KPIs), but a
    step without observations must carry KPIs; non-finite numbers are refused.
    """
    n = layout.n_agents
    obs = _sized(step.obs, n * layout.obs_size, "obs", np.float32)
    state = _sized(step.state, layout.state_size, "state", np.float32)
    avail = _sized(step.avail_actions, n * layout.n_actions, "avail_actions", bool)
    rewards = _sized(step.rewards, layout.n_components, "rewards", np.float32)
    kpis = _sized(step.kpis, n * layout.n_kpis, "kpis", np.float32)
    if obs is None and kpis is None:
        raise WireError(Code.CODE_SHAPE, "step carries neither observations nor KPIs")
    if avail is None:
        avail = layout.default_avail
    else:
        avail = avail.reshape(n, layout.n_actions)
        if not avail.any(axis=1).all():
            raise WireError(Code.CODE_SHAPE, "an agent has no available action")
    return WireStep(
        session_id=step.session_id,
        step_index=int(step.step_index),
        sim_time_s=float(step.sim_time_s),
        obs=None if obs is None else obs.reshape(n, layout.obs_size),
        state=state,
        avail_actions=avail,
        rewards=rewards,
        kpis=None if kpis is None else kpis.reshape(n, layout.n_kpis),
        terminated=bool(step.terminated),
        truncated=bool(step.truncated),
        truncation_reason=step.truncation_reason,
    )


def check_actions(actions, layout: WireLayout, avail: np.ndarray | None = None) -> list[int]:
    """Validate one joint action (length ``n_agents``, each in its agent's range and available)
    and return it as a list of ints; ``CODE_ACTION`` names the first problem."""
    acts = [int(a) for a in actions]
    if len(acts) != layout.n_agents:
        raise WireError(
            Code.CODE_ACTION, f"{len(acts)} actions for {layout.n_agents} agents"
        )
    for i, (a, hi) in enumerate(zip(acts, layout.agent_actions)):
        if not 0 <= a < hi:
            raise WireError(Code.CODE_ACTION, f"agent {i}: action {a} out of range [0, {hi - 1}]")
        if avail is not None and not avail[i, a]:
            raise WireError(Code.CODE_ACTION, f"agent {i}: action {a} is not available")
    return acts


def action_envelope(session_id: str, step_index: int, actions: list[int]) -> pb.Envelope:
    return pb.Envelope(
        action=pb.Action(session_id=session_id, step_index=step_index, actions=actions)
    )


def step_envelope(
    session_id: str,
    step_index: int,
    sim_time_s: float = 0.0,
    *,
    obs=(),
    state=(),
    avail_actions=(),
    rewards=(),
    kpis=(),
    terminated: bool = False,
    truncated: bool = False,
    truncation_reason: str = "",
) -> pb.Envelope:
    """A ``Step`` envelope from flat sequences (what a simulator sends; used by test sims)."""
    return pb.Envelope(
        step=pb.Step(
            session_id=session_id,
            step_index=step_index,
            sim_time_s=sim_time_s,
            obs=list(np.asarray(obs, np.float32).ravel()),
            state=list(np.asarray(state, np.float32).ravel()),
            avail_actions=list(np.asarray(avail_actions, bool).ravel()),
            rewards=list(np.asarray(rewards, np.float32).ravel()),
            kpis=list(np.asarray(kpis, np.float32).ravel()),
            terminated=terminated,
            truncated=truncated,
            truncation_reason=truncation_reason,
        )
    )
