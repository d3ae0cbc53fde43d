"""The bridge wire format: encode, decode and validate ``Envelope`` messages.

Only bytes <-> messages <-> numpy arrays and their sizes live here (no learning maths): a
``Hello`` fixes the shape of everything a simulator will send (:class:`WireLayout`), and every
later ``Step`` or ``Action`` is checked against it. Every problem raises :class:`WireError`
carrying the ``Error.Code`` to send back and a message that says what and why.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

import numpy as np
from google.protobuf.message import DecodeError

from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.core.api import AgentSpec, EnvSpec
from xr_codec_marl.core.spaces import ActionSpace, ContinuousDim, DiscreteSpace, HybridSpace, \
    describe

#: The protocol version this side speaks (``ProtocolVersion.PROTOCOL_VERSION_CURRENT``).
PROTOCOL_VERSION: int = pb.PROTOCOL_VERSION_CURRENT

Code = pb.Error.Code


@dataclass(frozen=True)
class WireLimits:
    """Upper bounds on everything a simulator may announce or send (the one place they live).

    A ``Hello`` fixes array sizes the server then allocates (policies, padded action grids,
    per-step buffers), so a buggy or hostile simulator could otherwise make it allocate
    without bound (``n_actions = 2**31``, a million agents). Every bound is checked before
    anything of that size exists: ``message_bytes`` by ZeroMQ itself (``ZMQ_MAXMSGSIZE``: a
    larger message drops the peer before it is buffered), ``hello_bytes`` on the raw bytes of
    every non-step message before protobuf parses them, and the counts by :func:`check_hello`
    before any per-agent object is made. The real scenarios (3 agents, 10 actions, 8 KPIs)
    sit far inside them.
    """

    agents: int = 1024
    obs_size: int = 65536  # per agent
    state_size: int = 65536
    n_actions: int = 65536  # per agent
    kpis: int = 256  # KPI names (per agent)
    global_kpis: int = 256  # global KPI names
    reward_components: int = 256
    #: categorical heads and continuous dimensions of one agent's hybrid action space
    action_heads: int = 64
    continuous_dims: int = 256
    #: one step's largest array: n_agents x obs_size, x n_actions (avail), x kpis (16 MiB f32)
    step_values: int = 1 << 22
    #: action values (and labels) over all agents and heads (8 MiB of doubles)
    action_values: int = 1 << 20
    #: continuous values of one Action: n_agents x max continuous dimensions
    continuous_values: int = 1 << 20
    #: any message but a step (hello, goodbye, error), refused unparsed beyond this
    hello_bytes: int = 16 << 20
    #: any message at all (the largest step allowed above is about 22 MiB)
    message_bytes: int = 64 << 20


#: The limits this side enforces.
LIMITS = WireLimits()


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
    """Parse one envelope; garbage or an envelope without a body raises ``CODE_BAD_MESSAGE``.

    Anything but a step larger than ``LIMITS.hello_bytes`` is refused before it is parsed
    (a step's ``Envelope`` starts with its tag byte ``0x1A``; any other message is small).
    """
    is_step = data[:1] == _STEP_TAG
    limit = LIMITS.message_bytes if is_step else LIMITS.hello_bytes
    if len(data) > limit:
        raise _too_big(len(data), limit, "a step" if is_step else "a non-step message")
    env = pb.Envelope()
    try:
        env.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise WireError(
            Code.CODE_BAD_MESSAGE, f"not a bridge Envelope ({len(data)} bytes): {exc}"
        ) from None
    body = env.WhichOneof("body")
    if body is None:
        raise WireError(
            Code.CODE_BAD_MESSAGE, f"envelope without a body ({len(data)} bytes)"
        )
    if body != "step" and len(data) > LIMITS.hello_bytes:  # a step tag, then something else
        raise _too_big(len(data), LIMITS.hello_bytes, f"a {body}")
    return env


_STEP_TAG = b"\x1a"  # Envelope field 3 (step), length-delimited


def _too_big(n: int, limit: int, what: str) -> WireError:
    return WireError(Code.CODE_SHAPE, f"{what} of {n} bytes is over the limit of {limit} bytes")


def encode(env: pb.Envelope) -> bytes:
    """The envelope's wire bytes (one ZeroMQ frame)."""
    return env.SerializeToString()


def body_name(env: pb.Envelope) -> str:
    """Which message the envelope carries (``"step"``), for logs and errors."""
    return env.WhichOneof("body") or "<empty>"


def error_envelope(code: int, message: str, fatal: bool = True) -> pb.Envelope:
    """An ``Error`` saying what was refused and why (``fatal``: the session is over)."""
    return pb.Envelope(error=pb.Error(code=code, message=message, fatal=fatal))


def close_envelope(session_id: str, reason: str) -> pb.Envelope:
    """The server's ``Close`` of a session."""
    return pb.Envelope(close=pb.Close(session_id=session_id, reason=reason))


def welcome_envelope(session_id: str) -> pb.Envelope:
    """The server's ``Welcome`` to an accepted hello."""
    return pb.Envelope(welcome=pb.Welcome(session_id=session_id, protocol_version=PROTOCOL_VERSION))


# ---------------------------------------------------------------------------------------------
# Hello <-> EnvSpec


def is_hybrid(agent: pb.AgentInfo) -> bool:
    """The agent announces a hybrid action space (heads and/or continuous dimensions)."""
    return bool(agent.heads) or bool(agent.continuous)


def space_from_agent_info(a: pb.AgentInfo) -> ActionSpace:
    """The action space an ``AgentInfo`` announces; a v1 one (none of the action-space fields)
    is discrete with ``n_actions`` and ``action_values``, ordered exactly when it has values.
    Call :func:`check_hello` first: an inconsistent description raises ``ValueError``."""
    if is_hybrid(a):
        return HybridSpace(
            heads=tuple(DiscreteSpace(int(h.n), tuple(h.values), bool(h.ordered),
                                      tuple(h.labels), h.name) for h in a.heads),
            continuous=tuple(ContinuousDim(c.name, float(c.low), float(c.high), c.unit)
                             for c in a.continuous),
        )
    values = tuple(a.action_values)
    ordered = a.actions_ordered if a.HasField("actions_ordered") else bool(values)
    return DiscreteSpace(int(a.n_actions), values, ordered, tuple(a.action_labels))


def agent_info_from_spec(agent: AgentSpec) -> pb.AgentInfo:
    """The ``AgentInfo`` of one agent. A discrete space that is ordered exactly when it has
    values (the v1 default) and has no labels gives a v1-shaped message (no new fields)."""
    info = pb.AgentInfo(id=agent.agent_id, kind=agent.kind, obs_size=agent.obs_size,
                        n_actions=agent.n_actions)
    space = agent.space
    if isinstance(space, HybridSpace):
        info.heads.extend(
            pb.ActionHead(name=h.name, n=h.n, values=list(h.values), ordered=h.ordered,
                          labels=list(h.labels)) for h in space.heads)
        info.continuous.extend(
            pb.ContinuousDim(name=c.name, low=c.low, high=c.high, unit=c.unit)
            for c in space.continuous)
        return info
    info.action_values.extend(space.values)
    if space.ordered != bool(space.values):
        info.actions_ordered = space.ordered
    info.action_labels.extend(space.labels)
    return info


def spec_from_hello(hello: pb.Hello) -> EnvSpec:
    """The environment spec a ``Hello`` announces (reward components may be empty)."""
    agents = tuple(
        AgentSpec(a.id, a.kind, int(a.obs_size), int(a.n_actions),
                  () if is_hybrid(a) else tuple(a.action_values), space_from_agent_info(a))
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
        global_kpi_names=tuple(hello.global_kpi_names),
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
        agents=[agent_info_from_spec(a) for a in spec.agents],
        state_size=spec.state_size,
        reward_components=list(spec.reward_components) if send_rewards else [],
        kpi_names=list(spec.kpi_names),
        step_interval_s=spec.step_interval_s,
        episode_limit=spec.episode_limit,
        parameters=parameters or {},
        global_kpi_names=list(spec.global_kpi_names),
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
    problems = _size_problems(hello)
    if problems:  # before looking at any agent in detail: the sizes may be absurd
        raise WireError(Code.CODE_SHAPE, "bad hello: " + "; ".join(problems))
    if not hello.agents:
        problems.append("no agents")
    for a in hello.agents:
        problems += _agent_problems(a)
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


def _choice_problems(who: str, n: int, values, labels) -> list[str]:
    """Values and labels of ``n`` discrete choices: none or ``n`` of each, values finite."""
    out = []
    if values and len(values) != n:
        out.append(f"{who}: {len(values)} action values for {n} actions")
    elif values and not all(map(math.isfinite, values)):
        out.append(f"{who}: action values must be finite numbers")
    if labels and len(labels) != n:
        out.append(f"{who}: {len(labels)} action labels for {n} actions")
    return out


def _agent_problems(a: pb.AgentInfo) -> list[str]:
    """What is inconsistent in one agent's description (sizes already within the limits)."""
    who = f"agent {a.id!r}"
    if a.n_actions < 1:
        return [f"{who} has no actions"]
    if not is_hybrid(a):
        return _choice_problems(who, a.n_actions, a.action_values, a.action_labels)
    out = []
    for field in ("action_values", "action_labels"):
        if getattr(a, field):
            out.append(f"{who}: a hybrid action space takes no {field} (its heads carry them)")
    if a.HasField("actions_ordered"):
        out.append(f"{who}: a hybrid action space takes no actions_ordered (its heads do)")
    joint = 1
    for k, h in enumerate(a.heads):
        head = f"{who} head {k} ({h.name[:40]!r})"
        if h.n < 1:
            out.append(f"{head} has no choices")
        out += _choice_problems(head, h.n, h.values, h.labels)
        joint *= h.n
    if joint != a.n_actions:
        sizes = "x".join(str(h.n) for h in a.heads) or "no heads"
        out.append(f"{who}: n_actions {a.n_actions} is not the product of its heads "
                   f"({sizes} = {joint})")
    for k, c in enumerate(a.continuous):
        if not (math.isfinite(c.low) and math.isfinite(c.high) and c.low <= c.high):
            out.append(f"{who} continuous dimension {k} ({c.name[:40]!r}) needs finite "
                       f"low <= high, got [{c.low}, {c.high}]")
    return out


def _size_problems(hello: pb.Hello, lim: WireLimits = LIMITS) -> list[str]:
    """Every size in ``hello`` beyond :data:`LIMITS` (empty list: all within them).

    Reads only counts and integers, so it costs next to nothing however absurd the sizes.
    """
    out: list[str] = []
    agents = hello.agents
    n = len(agents)
    if n > lim.agents:
        return [f"{n} agents, the limit is {lim.agents}"]  # do not even look at them
    for what, got, limit in (("state_size", hello.state_size, lim.state_size),
                             ("KPI names", len(hello.kpi_names), lim.kpis),
                             ("global KPI names", len(hello.global_kpi_names), lim.global_kpis),
                             ("reward components", len(hello.reward_components),
                              lim.reward_components)):
        if got > limit:
            out.append(f"{what} {got}, the limit is {limit}")
    obs = acts = dims = n_values = 0
    for a in agents:
        for what, got, limit in (("obs_size", a.obs_size, lim.obs_size),
                                 ("n_actions", a.n_actions, lim.n_actions),
                                 ("action heads", len(a.heads), lim.action_heads),
                                 ("continuous dimensions", len(a.continuous),
                                  lim.continuous_dims)):
            if got > limit:
                out.append(f"agent {a.id[:40]!r} {what} {got}, the limit is {limit}")
        obs, acts = max(obs, a.obs_size), max(acts, a.n_actions)
        dims = max(dims, len(a.continuous))
        n_values += max(len(a.action_values), len(a.action_labels))
        if len(a.heads) <= lim.action_heads:  # else not even looked at (reported above)
            for h in a.heads:
                if h.n > lim.n_actions:
                    out.append(f"agent {a.id[:40]!r} head {h.name[:40]!r} n {h.n}, the limit "
                               f"is {lim.n_actions}")
                n_values += max(len(h.values), len(h.labels))
    for what, per_agent in (("obs", obs), ("avail_actions", acts),
                            ("kpis", len(hello.kpi_names)),
                            ("agent_rewards", len(hello.reward_components))):
        if n * per_agent > lim.step_values:
            out.append(f"{n} agents x {per_agent} {what} per agent = {n * per_agent} step "
                       f"values, the limit is {lim.step_values}")
    if n_values > lim.action_values:
        out.append(f"{n_values} action values, the limit is {lim.action_values}")
    if n * dims > lim.continuous_values:
        out.append(f"{n} agents x {dims} continuous dimensions = {n * dims} continuous action "
                   f"values, the limit is {lim.continuous_values}")
    return out


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
            d += _space_differences(f"agent {g.agent_id}", g.space, e.space)
    if got.state_size != expected.state_size:
        d.append(f"state_size {got.state_size} != expected {expected.state_size}")
    if got.kpi_names != expected.kpi_names:
        d.append(f"kpi_names {list(got.kpi_names)} != expected {list(expected.kpi_names)}")
    if got.global_kpi_names != expected.global_kpi_names:
        d.append(f"global_kpi_names {list(got.global_kpi_names)} != "
                 f"expected {list(expected.global_kpi_names)}")
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


def _values_differ(got, expected) -> bool:
    return bool(got) and bool(expected) and (
        len(got) != len(expected) or not np.allclose(got, expected, rtol=1e-6, atol=1e-9))


def _space_differences(who: str, got: ActionSpace, expected: ActionSpace) -> list[str]:
    """Differences between two action spaces that matter on the wire (``n_actions`` is
    compared by the caller). Values and labels are compared only when both sides have them,
    and a discrete space's order only when ``got`` has values or says it is ordered (a v1
    simulator that leaves its values out cannot say)."""
    if isinstance(got, DiscreteSpace) != isinstance(expected, DiscreteSpace):
        return [f"{who} action space {describe(got)} != expected {describe(expected)}"]
    if isinstance(got, DiscreteSpace) and isinstance(expected, DiscreteSpace):
        d = []
        if _values_differ(got.values, expected.values):
            d.append(f"{who} action values differ from the expected ones")
        if got.ordered != expected.ordered and (got.values or got.ordered):
            d.append(f"{who} actions ordered {got.ordered} != expected {expected.ordered}")
        if got.labels and expected.labels and got.labels != expected.labels:
            d.append(f"{who} action labels {list(got.labels)} != expected "
                     f"{list(expected.labels)}")
        return d
    assert isinstance(got, HybridSpace) and isinstance(expected, HybridSpace)
    if len(got.heads) != len(expected.heads) or len(got.continuous) != len(expected.continuous):
        return [f"{who} action space {describe(got)} != expected {describe(expected)}"]
    d = []
    for k, (g, e) in enumerate(zip(got.heads, expected.heads)):
        head = f"{who} head {k}"
        for attr in ("name", "n", "ordered"):
            if getattr(g, attr) != getattr(e, attr):
                d.append(f"{head} {attr} {getattr(g, attr)!r} != expected {getattr(e, attr)!r}")
        if _values_differ(g.values, e.values):
            d.append(f"{head} ({g.name}) action values differ from the expected ones")
        if g.labels and e.labels and g.labels != e.labels:
            d.append(f"{head} ({g.name}) labels {list(g.labels)} != expected {list(e.labels)}")
    for k, (g, e) in enumerate(zip(got.continuous, expected.continuous)):
        if (g.name, g.unit) != (e.name, e.unit) or not (
                math.isclose(g.low, e.low, rel_tol=1e-9, abs_tol=1e-12)
                and math.isclose(g.high, e.high, rel_tol=1e-9, abs_tol=1e-12)):
            d.append(f"{who} continuous dimension {k} {g.name!r} [{g.low:g}, {g.high:g}] "
                     f"{g.unit!r} != expected {e.name!r} [{e.low:g}, {e.high:g}] {e.unit!r}")
    return d


# ---------------------------------------------------------------------------------------------
# Step / Action against the handshake's sizes


@dataclass(frozen=True)
class WireLayout:
    """Sizes fixed by a ``Hello``: what every ``Step`` and ``Action`` of the session must match.

    Per-agent vectors travel padded to the largest agent (``obs_size``, ``n_actions``,
    ``n_continuous``), row-major by agent, as the API's arrays are.
    """

    n_agents: int
    obs_size: int
    n_actions: int
    agent_actions: tuple[int, ...]
    state_size: int
    n_components: int
    n_kpis: int
    n_global_kpis: int = 0
    #: most continuous action dimensions of an agent (0: every agent is discrete)
    n_continuous: int = 0
    #: each agent's ``(low, high)`` per continuous dimension
    continuous_bounds: tuple[tuple[tuple[float, float], ...], ...] = ()

    @classmethod
    def from_spec(cls, spec: EnvSpec) -> WireLayout:
        return cls(
            n_agents=spec.n_agents,
            obs_size=spec.obs_size,
            n_actions=spec.n_actions,
            agent_actions=tuple(a.n_actions for a in spec.agents),
            state_size=spec.state_size,
            n_components=spec.n_components,
            n_kpis=len(spec.kpi_names),
            n_global_kpis=len(spec.global_kpi_names),
            n_continuous=spec.n_continuous,
            continuous_bounds=tuple(tuple((c.low, c.high) for c in a.space.continuous)
                                    for a in spec.agents),
        )

    @cached_property
    def continuous_low_high(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``low, high`` float64 ``[N, D]`` and the bool mask of each agent's own columns."""
        shape = (self.n_agents, self.n_continuous)
        low, high, used = np.zeros(shape), np.zeros(shape), np.zeros(shape, bool)
        for i, dims in enumerate(self.continuous_bounds):
            for j, (lo, hi) in enumerate(dims):
                low[i, j], high[i, j], used[i, j] = lo, hi, True
        for a in (low, high, used):
            a.flags.writeable = False
        return low, high, used

    @cached_property
    def all_true(self) -> np.ndarray:
        """Every padded action flagged available (read-only), as a sim may send it."""
        avail = np.ones((self.n_agents, self.n_actions), bool)
        avail.flags.writeable = False
        return avail

    @cached_property
    def default_avail(self) -> np.ndarray:
        """All of each agent's own actions available, the padding beyond them not (read-only)."""
        avail = np.arange(self.n_actions)[None, :] < np.array(self.agent_actions)[:, None]
        avail.flags.writeable = False
        return avail


@dataclass(slots=True)
class WireStep:
    """One decoded ``Step``: arrays in API shapes, owned by this step (writable, shared with
    nothing else); ``None`` where the sim sent nothing."""

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
    global_kpis: np.ndarray | None = None  # float32 [G] (None: not measured this step)
    agent_rewards: np.ndarray | None = None  # float32 [N, C] (None: not sent)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


def _size_error(what: str, got: int, expected: int) -> WireError:
    return WireError(Code.CODE_SHAPE, f"step {what} has {got} values, the hello says {expected}")


_F32 = np.dtype("<f4")


@dataclass(slots=True)
class RawStep:
    """A ``Step``'s fields before validation: flat 1-D views of one float buffer, empty where
    nothing was sent; ``avail_actions`` is ``None`` when the sim flagged all ``n_avail`` true."""

    session_id: str
    step_index: int
    sim_time_s: float
    #: obs, state, rewards, kpis, global_kpis, agent_rewards back to back (one finiteness check)
    floats: np.ndarray
    obs: np.ndarray
    state: np.ndarray
    rewards: np.ndarray
    kpis: np.ndarray
    n_avail: int
    avail_actions: np.ndarray | None
    terminated: bool
    truncated: bool
    truncation_reason: str
    global_kpis: np.ndarray
    agent_rewards: np.ndarray


_EMPTY_F32 = np.zeros(0, np.float32)
_EMPTY_F32.flags.writeable = False

#: The float fields of ``Step`` in the order :class:`RawStep` keeps them in its one buffer.
_FLOAT_FIELDS = ("obs", "state", "rewards", "kpis", "global_kpis", "agent_rewards")


def _split(buf: np.ndarray, sizes: tuple[int, ...]) -> list[np.ndarray]:
    """Views of ``buf`` of the given sizes, back to back (no view made for an empty field)."""
    out = []
    i = 0
    for n in sizes:
        out.append(buf[i:i + n] if n else _EMPTY_F32)
        i += n
    return out


def _raw_step(sid: str, idx: int, t: float, buf: np.ndarray, sizes: tuple[int, ...],
              n_avail: int, avail: np.ndarray | None, term: bool, trunc: bool,
              reason: str) -> RawStep:
    obs, state, rew, kpis, gk, ar = _split(buf, sizes)
    return RawStep(sid, idx, t, buf, obs, state, rew, kpis, n_avail, avail, term, trunc,
                   reason, gk, ar)


def raw_step_from_pb(step: pb.Step) -> RawStep:
    """The fields of a ``Step`` parsed by the protobuf runtime."""
    fields = [getattr(step, f) for f in _FLOAT_FIELDS]
    sizes = tuple(map(len, fields))
    buf = np.fromiter(chain(*fields), np.float32, sum(sizes))
    av = step.avail_actions
    avail = None if all(av) else np.fromiter(av, bool, len(av))
    return _raw_step(step.session_id, step.step_index, step.sim_time_s, buf, sizes, len(av),
                     avail, step.terminated, step.truncated, step.truncation_reason)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    x = data[i]
    if x < 0x80:
        return x, i + 1
    result, shift = 0, 0
    while True:
        x = data[i]
        i += 1
        result |= (x & 0x7F) << shift
        if x < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


_unpack_double = struct.Struct("<d").unpack_from
_BOOL_BYTES = b"\x00\x01"


#: (tag byte, field number) of the length-delimited array fields of ``Step`` up to field 8,
#: in field order; :data:`_LATE_ARRAY_TAGS` those after the scalar fields 9-11.
_ARRAY_TAGS = ((0x22, 4), (0x2A, 5), (0x32, 6), (0x3A, 7), (0x42, 8))
_LATE_ARRAY_TAGS = ((0x62, 12), (0x6A, 13))
#: numbers of the packed array fields of ``Step``
_ARRAY_FIELDS = frozenset(f for _, f in _ARRAY_TAGS + _LATE_ARRAY_TAGS)

#: Every ``Step`` field the fast path reads, by number (tests compare it with the schema).
FAST_STEP_FIELDS: dict[int, str] = {
    1: "session_id", 2: "step_index", 3: "sim_time_s", 4: "obs", 5: "state",
    6: "avail_actions", 7: "rewards", 8: "kpis", 9: "terminated", 10: "truncated",
    11: "truncation_reason", 12: "global_kpis", 13: "agent_rewards",
}
#: Every ``Action`` field :func:`encode_action` writes, by number.
FAST_ACTION_FIELDS: dict[int, str] = {
    1: "session_id", 2: "step_index", 3: "actions", 4: "continuous",
}

_Fields = tuple[str, int, float, bool, bool, str, dict[int, bytes]]


def _fields_in_order(data: bytes, i: int, end: int) -> _Fields | None:
    """Straight-line read of the layout protobuf itself writes (fields in number order, each
    at most once, packed arrays, one-byte bools); ``None`` if the bytes say anything else."""
    sid, reason, idx, t, term, trunc = "", "", 0, 0.0, False, False
    chunks: dict[int, bytes] = {}
    if i < end and data[i] == 0x0A:
        n, i = _varint(data, i + 1)
        sid = data[i:i + n].decode()
        i += n
    if i < end and data[i] == 0x10:
        idx, i = _varint(data, i + 1)
    if i < end and data[i] == 0x19:
        t = _unpack_double(data, i + 1)[0]
        i += 9
    for tag, field in _ARRAY_TAGS:
        if i < end and data[i] == tag:
            n = data[i + 1]
            if n < 0x80:
                i += 2
            else:
                n, i = _varint(data, i + 1)
            chunks[field] = data[i:i + n]
            i += n
    if i < end and data[i] == 0x48:
        if data[i + 1] > 1:
            return None
        term = data[i + 1] == 1
        i += 2
    if i < end and data[i] == 0x50:
        if data[i + 1] > 1:
            return None
        trunc = data[i + 1] == 1
        i += 2
    if i < end and data[i] == 0x5A:
        n, i = _varint(data, i + 1)
        reason = data[i:i + n].decode()
        i += n
    for tag, field in _LATE_ARRAY_TAGS:
        if i < end and data[i] == tag:
            n, i = _varint(data, i + 1)
            chunks[field] = data[i:i + n]
            i += n
    return (sid, idx, t, term, trunc, reason, chunks) if i == end else None


def _fields_any_order(data: bytes, i: int, end: int) -> _Fields | None:
    """The same for fields in any order (still each array once, known fields only)."""
    sid, reason, idx, t, term, trunc = "", "", 0, 0.0, False, False
    chunks: dict[int, bytes] = {}
    while i < end:
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            length, i = _varint(data, i)
            j = i + length
            if j > end:
                return None
            if field == 1:
                sid = data[i:j].decode()
            elif field == 11:
                reason = data[i:j].decode()
            elif field in chunks or field not in _ARRAY_FIELDS:
                return None  # an unknown field, or an array in several chunks
            else:
                chunks[field] = data[i:j]
            i = j
        elif wire == 0:
            value, i = _varint(data, i)
            if field == 2:
                idx = value
            elif field == 9:
                term = value != 0
            elif field == 10:
                trunc = value != 0
            else:
                return None
        elif wire == 1 and field == 3:
            t = _unpack_double(data, i)[0]
            i += 8
        else:
            return None
    return (sid, idx, t, term, trunc, reason, chunks) if i == end else None


def parse_step_envelope(data: bytes) -> RawStep | None:
    """Fast path for the hot message: an ``Envelope{step}`` read straight from its bytes.

    The packed float fields are joined into one buffer with a single numpy call, instead of
    reading every number through the protobuf runtime (several times slower). Only the
    canonical encoding is handled (what protobuf writes: packed repeated fields, each once,
    known fields only); for anything else this returns ``None`` and the caller parses with the
    protobuf runtime, which then decides. Tests check that both paths agree.
    """
    try:
        if data[0] != 0x1A or len(data) > LIMITS.message_bytes:
            return None  # not a step, or too big for one: decode() decides
        length = data[1]
        if length < 0x80:
            i = 2
        else:
            length, i = _varint(data, 1)
        end = i + length
        if end != len(data):
            return None
        fields = _fields_in_order(data, i, end) or _fields_any_order(data, i, end)
    except (IndexError, ValueError, UnicodeDecodeError, struct.error):
        return None
    if fields is None:
        return None
    sid, idx, t, term, trunc, reason, chunks = fields
    get = chunks.get
    parts = (get(4, b""), get(5, b""), get(7, b""), get(8, b""), get(12, b""), get(13, b""))
    lens = tuple(map(len, parts))
    if any(x & 3 for x in lens):
        return None  # not whole float32s: protobuf will call it corrupt
    sizes = tuple(x >> 2 for x in lens)
    buf = np.frombuffer(bytearray(b"".join(parts)), _F32)  # bytearray: writable
    flags = get(6, b"")
    n_avail = len(flags)
    if flags.count(1) == n_avail:
        avail = None
    elif flags.translate(None, _BOOL_BYTES):
        return None  # a bool encoded other than 0/1
    else:
        avail = np.frombuffer(bytearray(flags), bool)
    return _raw_step(sid, idx, t, buf, sizes, n_avail, avail, term, trunc, reason)


def check_step(raw: RawStep, layout: WireLayout) -> WireStep:
    """Check a step's sizes against the handshake and shape its arrays for the API.

    ``obs``/``state``/``rewards`` may be empty (the server then builds them from KPIs), but a
    step without observations must carry KPIs; non-finite numbers are refused.
    """
    n = layout.n_agents
    obs, state, rewards, kpis = raw.obs, raw.state, raw.rewards, raw.kpis
    gkpis, arew = raw.global_kpis, raw.agent_rewards
    n_obs, n_state, n_rew, n_kpi = obs.size, state.size, rewards.size, kpis.size
    n_gkpi, n_arew = gkpis.size, arew.size
    if n_obs and n_obs != n * layout.obs_size:
        raise _size_error("obs", n_obs, n * layout.obs_size)
    if n_state and n_state != layout.state_size:
        raise _size_error("state", n_state, layout.state_size)
    if n_rew and n_rew != layout.n_components:
        raise _size_error("rewards", n_rew, layout.n_components)
    if n_kpi and n_kpi != n * layout.n_kpis:
        raise _size_error("kpis", n_kpi, n * layout.n_kpis)
    if n_gkpi and n_gkpi != layout.n_global_kpis:
        raise _size_error("global_kpis", n_gkpi, layout.n_global_kpis)
    if n_arew and n_arew != n * layout.n_components:
        raise _size_error("agent_rewards", n_arew, n * layout.n_components)
    if not n_obs and not n_kpi:
        raise WireError(Code.CODE_SHAPE, "step carries neither observations nor KPIs")
    # a float64 sum: any inf/nan poisons it, and finite float32s cannot overflow it
    if not math.isfinite(raw.floats.sum(dtype=np.float64)):
        bad = [w for w in _FLOAT_FIELDS if not np.isfinite(getattr(raw, w)).all()]
        raise WireError(Code.CODE_SHAPE, f"step {', '.join(bad)} contains non-finite values")
    n_avail = raw.n_avail
    if n_avail == 0:
        avail = layout.default_avail.copy()
    elif n_avail != n * layout.n_actions:
        raise _size_error("avail_actions", n_avail, n * layout.n_actions)
    elif raw.avail_actions is None:
        avail = layout.all_true.copy()
    else:
        avail = raw.avail_actions.reshape(n, layout.n_actions)
        if not avail.any(axis=1).all():
            raise WireError(Code.CODE_SHAPE, "an agent has no available action")
    return WireStep(
        raw.session_id,
        raw.step_index,
        raw.sim_time_s,
        obs.reshape(n, layout.obs_size) if n_obs else None,
        state if n_state else None,
        avail,
        rewards if n_rew else None,
        kpis.reshape(n, layout.n_kpis) if n_kpi else None,
        raw.terminated,
        raw.truncated,
        raw.truncation_reason,
        gkpis if n_gkpi else None,
        arew.reshape(n, layout.n_components) if n_arew else None,
    )


def decode_step(step: pb.Step, layout: WireLayout) -> WireStep:
    """A parsed ``Step`` checked against the handshake (see :func:`check_step`)."""
    return check_step(raw_step_from_pb(step), layout)


def check_actions(actions, layout: WireLayout, avail: np.ndarray | None = None) -> list[int]:
    """Validate one joint action (length ``n_agents``, each in its agent's range and available)
    and return it as a list of ints; ``CODE_ACTION`` names the first problem."""
    acts = [int(a) for a in actions]
    if acts != list(actions):
        raise WireError(Code.CODE_ACTION, f"actions must be integer indices, got {list(actions)}")
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


def check_continuous(continuous, layout: WireLayout) -> list[float]:
    """Validate one joint action's continuous values (``[N, D]``, ``D = layout.n_continuous``;
    ``None`` or an empty array for a session without continuous dimensions) and return them
    flat, row-major by agent, with the columns beyond each agent's own dimensions zeroed.
    Every value must be finite and within its dimension's ``[low, high]`` (``CODE_ACTION``)."""
    n, d = layout.n_agents, layout.n_continuous
    if continuous is None:
        if d:
            raise WireError(Code.CODE_ACTION, f"this session's agents have {d} continuous "
                            "action dimensions: send their values too")
        return []
    try:
        cont = np.asarray(continuous, np.float64)
    except (TypeError, ValueError):
        raise WireError(Code.CODE_ACTION, "continuous action values must be numbers") from None
    if not d:
        if cont.size:
            raise WireError(Code.CODE_ACTION, f"{cont.size} continuous action values for "
                            "agents without continuous dimensions")
        return []
    if cont.shape != (n, d):
        raise WireError(Code.CODE_ACTION, f"continuous actions of shape {list(cont.shape)}, "
                        f"expected [{n}, {d}] (agents x continuous dimensions)")
    low, high, used = layout.continuous_low_high
    cont = np.where(used, cont, 0.0)
    bad = ~(np.isfinite(cont) & (cont >= low) & (cont <= high))
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise WireError(Code.CODE_ACTION, f"agent {i}: continuous value {float(cont[i, j])!r} of "
                        f"dimension {j} is not within [{low[i, j]:g}, {high[i, j]:g}]")
    return cont.ravel().tolist()


def _encode_varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_action(session_id: str, step_index: int, actions: list[int],
                  continuous: Sequence[float] = ()) -> bytes:
    """``Envelope{action}`` bytes, identical to protobuf's own serialization (tests check it).

    Hand-encoded because it is on every step's hot path: a handful of byte joins instead of
    building three protobuf objects. ``actions`` must be non-negative ints and ``continuous``
    the flat continuous values (checked before: :func:`check_actions`,
    :func:`check_continuous`).
    """
    parts = []
    if session_id:
        sid = session_id.encode()
        parts += (b"\x0a", _encode_varint(len(sid)), sid)
    if step_index:
        parts += (b"\x10", _encode_varint(step_index))
    if actions:
        packed = bytes(actions) if max(actions) < 0x80 else \
            b"".join(_encode_varint(a) for a in actions)
        parts += (b"\x1a", _encode_varint(len(packed)), packed)
    if len(continuous):
        packed = np.asarray(continuous, "<f8").tobytes()
        parts += (b"\x22", _encode_varint(len(packed)), packed)
    inner = b"".join(parts)
    return b"\x22" + _encode_varint(len(inner)) + inner


def action_envelope(session_id: str, step_index: int, actions: list[int],
                    continuous: Sequence[float] = ()) -> pb.Envelope:
    """An ``Action`` envelope built by protobuf (the reference :func:`encode_action` matches)."""
    return pb.Envelope(
        action=pb.Action(session_id=session_id, step_index=step_index, actions=actions,
                         continuous=list(continuous))
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
    global_kpis=(),
    agent_rewards=(),
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
            global_kpis=list(np.asarray(global_kpis, np.float32).ravel()),
            agent_rewards=list(np.asarray(agent_rewards, np.float32).ravel()),
        )
    )
