"""The ns-3 backend: ``Ns3Env`` runs the batched environment API on live simulator processes.

Each of the ``num_envs`` environment copies is one simulator process (a *worker*) talking to
one :class:`~xr_codec_marl.bridge.server.BridgeServer`. ``reset(seed)`` launches (or, with
``launch=False``, waits for) ``num_envs`` simulators with seeds ``seed + i`` and returns their
first observations; ``step`` sends each worker its agents' actions and collects the next window.
A worker that dies, goes silent or breaks the protocol mid-episode ends only its own copy:
``truncated[i]`` with ``info["truncation_reason"][i]`` saying why and its last observation;
the other copies carry on. That step measured nothing for copy ``i``: ``info["measured"][i]``
is False and its KPIs and rewards are zero placeholders, never to be averaged.

Nothing here knows a scenario: the spec, the binary and its scenario arguments, and the
scenario's *glue* are given by the caller, normally :func:`xr_codec_marl.env.factory.make_env`
from the scenario registry. The glue is one of two kinds:

- :class:`~xr_codec_marl.core.scenario.Ns3Glue` builds observations, state and rewards for
  simulators that send raw per-agent KPIs only (what they send otherwise passes through);
- :class:`~xr_codec_marl.core.scenario.Ns3Translator` builds everything a step returns
  (observations, state, available actions, rewards, KPIs, global KPIs, extra ``info``) from
  simulators that report their raw state only; they announce its ``wire_spec()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import numpy as np

from xr_codec_marl.bridge.wire import Code, WireStep
from xr_codec_marl.bridge.launcher import SimProcess, SimulatorLauncher
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.bridge.server import (
    DEFAULT_ENDPOINT,
    DEFER,
    BridgeServer,
    Deferred,
    Ended,
    Joined,
    StepReceived,
)
from xr_codec_marl.core.api import (
    EnvSpec,
    HybridActions,
    Observation,
    StepResult,
    split_actions,
    validate_actions,
)
from xr_codec_marl.core.scenario import (
    NoGlue, Ns3Glue, Ns3Translator, Translation, announced_spec,
)
from xr_codec_marl.errors import SimulatorError

log = logging.getLogger(__name__)

#: ``info["truncation_reason"]`` of an episode cut at its limit (as the analytic backend says).
TIME_LIMIT = "time limit"

#: ``sim_argv(endpoint, seed, worker_index)``: the arguments one launched simulator gets.
SimArgv = Callable[[str, int, int], Sequence[str]]


def standard_argv(scenario_args: Sequence[str], timeout_s: float) -> SimArgv:
    """The standard flags every scenario binary takes (the C++ ``common/`` library's:
    endpoint, seed, RngRun, receive timeout), then the scenario's own arguments."""
    scenario_args = list(scenario_args)

    def argv(endpoint: str, seed: int, index: int) -> list[str]:
        return [f"--endpoint={endpoint}", f"--seed={seed}", f"--run={index + 1}",
                f"--timeoutMs={int(timeout_s * 1000)}", *scenario_args]

    return argv


class Ns3Env:
    """``VecMultiAgentEnv`` over ``workers`` live simulators (see the module docstring).

    ``spec`` is the environment's spec; ``glue`` builds what simulators leave out (None: they
    must send obs, state and rewards). Simulators must announce ``spec`` (hellos that
    disagree are refused), or the translator glue's ``wire_spec()``, whose raw reports it
    turns into every output (``ValueError`` at once when it cannot serve these settings).

    ``launch=True``: each ``reset`` starts ``binary`` (a path, a name for
    ``build.find_binary``, or a command list such as ``[python, script]``) once per worker with
    ``sim_argv(endpoint, seed, i)`` (default: the standard ``--endpoint= --seed= --run=
    --timeoutMs=`` and ``scenario_args``) followed by ``sim_args``.
    ``launch=False``: serves simulators started elsewhere that connect to ``endpoint`` (their
    own seeds, reported in ``info["seeds"]``).

    ``timeout_s``: a silent simulator is declared dead after this (also the launched
    simulators' own receive timeout); ``connect_timeout_s``: how long ``reset`` waits for every
    worker's first observation; ``initial_action``: the action assumed before step 0 when the
    glue cannot read it from the start-up KPIs (default: the highest, as the analytic
    backend).
    """

    def __init__(
        self,
        spec: EnvSpec,
        *,
        workers: int = 1,
        glue: Ns3Glue | Ns3Translator | None = None,
        launch: bool = True,
        binary: str | Sequence[str] = "",
        scenario_args: Sequence[str] = (),
        sim_args: Sequence[str] = (),
        sim_argv: SimArgv | None = None,
        endpoint: str | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 60.0,
        log_dir: str | Path | None = None,
        initial_action: int | None = None,
        server: BridgeServer | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if launch and not binary:
            raise ValueError("launching simulators needs a binary")
        self.spec: EnvSpec = spec
        self.num_envs = int(workers)
        self.launch = bool(launch)
        self.binary = binary
        first = binary if isinstance(binary, str) else binary[-1]
        self._binary_name = Path(first).stem
        self.sim_args = list(sim_args)
        self.sim_argv = sim_argv or standard_argv(scenario_args, timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        k = self.spec.n_actions
        self.initial_action = k - 1 if initial_action is None else int(initial_action)
        self.translator: Ns3Translator | None = None
        if isinstance(glue, Ns3Translator):
            problems = glue.problems()
            if problems:
                raise ValueError("; ".join(problems))
            self.translator = glue
        #: the spec simulators announce: ``spec``, or the glue's wire spec where it has one
        #: (a translator's raw one; a glue adding features the simulators do not send)
        self.wire_spec: EnvSpec = announced_spec(glue, spec)
        self.glue: Ns3Glue = glue if glue is not None and self.translator is None else NoGlue()
        self._build_problems = [] if self.translator is not None else self.glue.problems()
        self._own_server = server is None
        if server is None:
            server = BridgeServer(
                endpoint or ("tcp://127.0.0.1:*" if launch else DEFAULT_ENDPOINT),
                expected_spec=self.wire_spec,
                timeout_s=timeout_s,
            )
        server.admit = self._admit
        self.server = server
        self.launcher = SimulatorLauncher(log_dir) if launch else None
        b, n = self.num_envs, self.spec.n_agents
        self._sessions: list[str | None] = [None] * b
        #: what each worker's simulator announced in its Hello (e.g. its "ran"), latest session
        self.simulator_parameters: list[dict[str, str]] = [{} for _ in range(b)]
        self._slot_of: dict[str, int] = {}
        self._seed_slot: dict[int, int] = {}
        self._procs: list[SimProcess | None] = [None] * b
        self._accepting = False
        self._done = np.ones(b, bool)
        self._reasons = [""] * b
        self._needs_reset = True
        self._next_seed = 0
        self._seeds = [0] * b
        self._t = 0
        self._obs = np.zeros((b, n, self.spec.obs_size), np.float32)
        self._state = np.zeros((b, self.spec.state_size), np.float32)
        self._avail = np.ones((b, n, self.spec.n_actions), bool)
        self._kpis = np.zeros((b, n, len(self.spec.kpi_names)), np.float32)
        self._prev_kpis: np.ndarray | None = None
        # each worker's last raw report (a translator's input), wire spec's names
        self._raw_kpis = np.zeros((b, n, len(self.wire_spec.kpi_names)), np.float32)
        self._raw_global = np.zeros((b, len(self.wire_spec.global_kpi_names)), np.float32)
        #: when reset or step last returned: the agents' decision time runs from there
        self._last_return = time.perf_counter()
        self._closed = False

    @property
    def endpoint(self) -> str:
        """Where simulators connect (the bound address, with the actual port)."""
        return self.server.endpoint

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None) -> Observation:
        """Start ``num_envs`` simulators (seeds ``seed + i``) and return their first windows."""
        if self._closed:
            raise RuntimeError("the environment is closed")
        self._end_episode("reset")
        seed = self._next_seed if seed is None else int(seed)
        self._next_seed = seed + self.num_envs
        b = self.num_envs
        self._seeds = [seed + i for i in range(b)]
        self._seed_slot = {s: i for i, s in enumerate(self._seeds)} if self.launch else {}
        first: list[WireStep | None] = [None] * b
        self._accepting = True
        self.server.readmit()  # simulators that arrived during the last episode
        try:
            if self.launcher is not None:
                for i, s in enumerate(self._seeds):
                    self._procs[i] = self.launcher.start(
                        self.binary, self._sim_argv(s, i), name=f"{self._binary_name}-s{s}"
                    )
            self._await_first(first)
        except BaseException:
            self._accepting = False
            self._end_episode("reset failed")
            raise
        self._accepting = False
        if self.translator is None:
            kpis = np.stack([self._kpi_array(ws) for ws in first])
            self._actions = self.glue.initial_actions(kpis, self.initial_action)
        else:
            self._actions = np.full((b, self.spec.n_agents), self.initial_action, np.int64)
        out = self._assemble(first, self._actions, with_rewards=False)
        self._obs, self._state, self._avail, self._kpis = out.obs, out.state, out.avail, out.kpis
        # step 0 carries no measured window (zero KPIs): nothing to shape the first reward against
        self._prev_kpis = None
        self._t = 0
        self._done[:] = False
        self._reasons = [""] * b
        self._needs_reset = False
        for i, ws in enumerate(first):  # a simulator whose episode ended at start-up
            if ws.done:
                self._done[i] = True
                self._reasons[i] = ws.truncation_reason or "simulator ended at start-up"
        # step 0 is the start-up report, not a measured window (as the analytic backend's reset)
        info = self._info(first, out, np.zeros(b, bool))
        self._last_return = time.perf_counter()
        return Observation(self._obs, self._state, self._avail, info)

    def step(self, actions: np.ndarray | HybridActions) -> StepResult:
        """Send every live worker its joint action (and continuous values, for hybrid action
        spaces); collect each one's next window."""
        decision_ms = (time.perf_counter() - self._last_return) * 1e3
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (episode over or never started)")
        _, continuous = split_actions(actions)
        actions = validate_actions(self.spec, actions, self._avail)
        b = self.num_envs
        incoming: list[WireStep | None] = [None] * b
        died: dict[int, str] = {}
        waiting: set[int] = set()
        for i in range(b):
            if self._done[i]:
                continue
            sid = self._sessions[i]
            if sid is not None and self.server.send_action(
                    sid, actions[i], None if continuous is None else continuous[i]):
                waiting.add(i)
            else:
                died[i] = "simulator gone before its action could be sent"
        self._collect(waiting, incoming, died)

        self._t += 1
        out = self._assemble(incoming, actions, with_rewards=True, decision_ms=decision_ms)
        obs, state, avail, rewards, kpis = out.obs, out.state, out.avail, out.rewards, out.kpis
        terminated = np.zeros(b, bool)
        truncated = np.zeros(b, bool)
        for i in range(b):
            ws = incoming[i]
            if ws is not None:
                terminated[i] = ws.terminated
                truncated[i] = ws.truncated and not ws.terminated
                if truncated[i]:  # at the episode limit: the reason every backend gives
                    self._reasons[i] = TIME_LIMIT if self._t >= self.spec.episode_limit else (
                        ws.truncation_reason or "simulator truncated the episode")
                if self._prev_kpis is None:
                    self._prev_kpis = kpis.copy()
                self._prev_kpis[i] = kpis[i]
            else:  # dead worker, or one that was already done: its last observation stays
                terminated[i] = self._done[i] and not self._reasons[i]
                truncated[i] = not terminated[i]
                if i in died:
                    self._reasons[i] = died[i]
                    log.warning("worker %d (seed %d) truncated: %s", i, self._seeds[i], died[i])
                    self._procs_reap(i)
        if self._t >= self.spec.episode_limit:
            for i in np.flatnonzero(~(terminated | truncated)):
                truncated[i] = True
                self._reasons[i] = TIME_LIMIT
                if self._sessions[i] is not None:
                    self.server.close_session(self._sessions[i], TIME_LIMIT)
        self._done |= terminated | truncated
        self._needs_reset = bool(self._done.all())
        self._actions = actions
        # fresh arrays every step, never written after being returned: no defensive copies
        self._obs, self._state, self._avail = obs, state, avail
        info = self._info(incoming, out, np.array([ws is not None for ws in incoming]))
        info["truncation_reason"] = [self._reasons[i] if truncated[i] else "" for i in range(b)]
        self._last_return = time.perf_counter()
        return StepResult(obs, state, avail, info, rewards, terminated, truncated)

    def close(self) -> None:
        """End every episode, stop launched simulators, release the socket.

        An env never closed gets the same minus the goodbyes when it is garbage-collected or
        the interpreter exits: the launcher's and the server's finalizers stop its simulators
        and close its socket without blocking.
        """
        if self._closed:
            return
        self._end_episode("environment closed")
        self._closed = True
        if self.launcher is not None:
            self.launcher.close()
        if self._own_server:
            self.server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _sim_argv(self, seed: int, index: int) -> list[str]:
        return [*map(str, self.sim_argv(self.server.endpoint, seed, index)), *self.sim_args]

    def _admit(self, hello: pb.Hello, spec: EnvSpec) -> str | Deferred | None:
        """Launch mode: only the seeds this reset launched. Attach mode: any simulator while a
        reset waits for workers; one arriving mid-episode waits (deferred) for the next reset
        instead of being turned away."""
        if self.launch:
            slot = self._seed_slot.get(int(hello.seed))
            if not self._accepting or slot is None or self._sessions[slot] is not None:
                return (f"unexpected simulator with seed {hello.seed}; this environment "
                        f"launched seeds {sorted(self._seed_slot)}")
            return None
        if not self._accepting or all(s is not None for s in self._sessions):
            return DEFER
        return None

    def _await_first(self, first: list[WireStep | None]) -> None:
        """Poll until every worker has joined and sent step 0; raise on death or timeout."""
        deadline = time.monotonic() + self.connect_timeout_s
        while any(ws is None for ws in first):
            now = time.monotonic()
            if now >= deadline:
                ready = sum(ws is not None for ws in first)
                raise TimeoutError(
                    f"only {ready} of {self.num_envs} simulators were ready within "
                    f"{self.connect_timeout_s:g} s on {self.endpoint}"
                    + ("" if self.launch else " (start them with --endpoint=" + self.endpoint + ")")
                )
            events = self.server.poll(min(0.05, deadline - now))
            for ev in events:
                if isinstance(ev, Joined):
                    self._join(ev)
                    continue
                slot = self._slot_of.get(ev.session.session_id)
                if slot is None:
                    continue
                if isinstance(ev, StepReceived):
                    first[slot] = ev.step
                elif isinstance(ev, Ended):
                    self._slot_of.pop(ev.session.session_id, None)
                    self._sessions[slot] = None
                    first[slot] = None
                    if self.launch:
                        raise SimulatorError(
                            f"simulator for worker {slot} failed during start-up: {ev.reason}"
                        )
                    log.warning("worker %d left during start-up (%s); waiting for another",
                                slot, ev.reason)
            if not events and self.launcher is not None:
                for proc in self.launcher.exited():
                    slot = self._procs.index(proc) if proc in self._procs else None
                    if slot is not None and first[slot] is None:
                        raise SimulatorError(
                            f"simulator for worker {slot} exited before its first step: "
                            f"{proc.describe_exit()}"
                        )

    def _join(self, ev: Joined) -> None:
        s = ev.session
        if self.launch:
            slot = self._seed_slot[int(s.hello.seed)]
        else:
            slot = self._sessions.index(None)
            self._seeds[slot] = s.seed
        self._sessions[slot] = s.session_id
        self._slot_of[s.session_id] = slot
        self.simulator_parameters[slot] = dict(s.hello.parameters)

    def _collect(self, waiting: set[int], incoming: list[WireStep | None],
                 died: dict[int, str]) -> None:
        """Poll until every waiting worker sent its step or ended (the server's timeout bounds
        silences; launched processes that exit are noticed within ~50 ms)."""
        server = self.server
        unexplained = set(died)  # their sends failed: the server queued an Ended saying why
        while waiting or unexplained:
            events = server.poll(0.05 if waiting else 0.0)
            for ev in events:
                if isinstance(ev, Joined):
                    continue
                slot = self._slot_of.get(ev.session.session_id)
                if isinstance(ev, StepReceived) and slot in waiting:
                    incoming[slot] = ev.step
                    waiting.discard(slot)
                elif isinstance(ev, Ended) and (slot in waiting or slot in unexplained):
                    died[slot] = ev.reason
                    self._sessions[slot] = None
                    waiting.discard(slot)
                    unexplained.discard(slot)
            if not waiting:
                break
            if not events and self.launcher is not None:
                for proc in self.launcher.exited():
                    if proc in self._procs:
                        slot = self._procs.index(proc)
                        if slot in waiting:
                            sid = self._sessions[slot]
                            reason = f"simulator died: {proc.describe_exit()}"
                            if sid is not None:
                                server.abort_session(sid, Code.CODE_INTERNAL, reason)
                                self._sessions[slot] = None
                            died[slot] = reason
                            waiting.discard(slot)

    def _procs_reap(self, slot: int) -> None:
        proc = self._procs[slot]
        if proc is not None:
            proc.stop(grace_s=0.5)

    def _kpi_array(self, ws: WireStep) -> np.ndarray:
        if ws.kpis is None:
            return np.zeros((self.spec.n_agents, len(self.spec.kpi_names)), np.float32)
        return ws.kpis

    def _assemble(
        self, steps: list[WireStep | None], prev_actions: np.ndarray, with_rewards: bool,
        decision_ms: float = 0.0,
    ) -> Translation:
        """Fresh outputs for the batch: each simulator's own values where it sent them, built
        from its KPIs by the scenario's glue where it did not (or, with a translator, all
        built from its raw state), and the last observation (zero rewards and KPIs) for
        workers without a step: placeholders that ``info["measured"]`` marks as no window
        (see ``_info``). ``with_rewards`` False: the start-up report."""
        if self.translator is not None:
            return self._translate(steps, decision_ms, first=not with_rewards)
        b, spec = self.num_envs, self.spec
        n = spec.n_agents
        obs = np.empty((b, n, spec.obs_size), np.float32)
        state = np.empty((b, spec.state_size), np.float32)
        avail = np.empty((b, n, spec.n_actions), bool)
        rewards = np.zeros((b, spec.n_components), np.float32)
        kpis = np.zeros((b, n, len(spec.kpi_names)), np.float32)
        need_obs: list[int] = []
        need_rew: list[int] = []
        for i, ws in enumerate(steps):
            if ws is None:
                obs[i], state[i], avail[i] = self._obs[i], self._state[i], self._avail[i]
                continue
            avail[i] = ws.avail_actions
            if ws.kpis is not None:
                kpis[i] = ws.kpis
            if ws.obs is None or ws.state is None:
                need_obs.append(i)
            if ws.obs is not None:
                obs[i] = ws.obs
            if ws.state is not None:
                state[i] = ws.state
            if with_rewards:
                if ws.rewards is None:
                    need_rew.append(i)
                else:
                    rewards[i] = ws.rewards
        if (need_obs or need_rew) and self._build_problems:
            raise RuntimeError(
                "a simulator sent raw KPIs only, but observations/rewards cannot be built for "
                f"this spec: {'; '.join(self._build_problems)}"
            )
        if need_obs:
            b_obs, b_state = self.glue.observe(prev_actions, kpis)
            for i in need_obs:
                if steps[i].obs is None:
                    obs[i] = b_obs[i]
                if steps[i].state is None:
                    state[i] = b_state[i]
        if need_rew:
            built = self.glue.rewards(kpis, self._prev_kpis)
            rewards[need_rew] = built[need_rew]
        g = np.zeros((b, len(spec.global_kpi_names)), np.float32)  # zeros where none measured
        for i, ws in enumerate(steps):
            if ws is not None and ws.global_kpis is not None:
                g[i] = ws.global_kpis
        return Translation(obs, state, avail, rewards, kpis, g)

    def _translate(self, steps: list[WireStep | None], decision_ms: float,
                   first: bool) -> Translation:
        """Every output from the workers' raw state reports, by the translator. A worker
        without a report this time is translated from its last one, then keeps its last
        observation, state and available actions, with zero KPIs and rewards."""
        assert self.translator is not None
        measured = np.array([ws is not None for ws in steps])
        for i, ws in enumerate(steps):
            if ws is None:
                continue
            if ws.kpis is None or (self._raw_global.shape[1] and ws.global_kpis is None):
                raise SimulatorError(
                    f"worker {i}'s simulator sent no raw state report (per-agent and global "
                    f"KPIs {', '.join(self.wire_spec.kpi_names[:3])}, ...); this scenario "
                    "builds every output from it")
            self._raw_kpis[i] = ws.kpis
            if ws.global_kpis is not None:
                self._raw_global[i] = ws.global_kpis
        sim_time = np.array([ws.sim_time_s if ws is not None else np.nan for ws in steps])
        out = self.translator.translate(self._raw_kpis.copy(), self._raw_global.copy(),
                                        measured, decision_ms, first, sim_time_s=sim_time)
        stale = ~measured
        if stale.any():  # fresh arrays from the translator: patched in place
            out.obs[stale], out.state[stale] = self._obs[stale], self._state[stale]
            out.avail[stale] = self._avail[stale]
            out.rewards[stale], out.kpis[stale], out.global_kpis[stale] = 0.0, 0.0, 0.0
        return out

    def _info(self, steps: list[WireStep | None], out: Translation,
              measured: np.ndarray) -> dict[str, object]:
        """The step's ``info`` (and a translator's extra keys). ``measured[i]``: worker ``i``
        sent this window; where it did not (it died, went silent, or its episode was already
        over) its KPIs are zeros standing for nothing, and no average may count them."""
        info: dict[str, object] = {
            **out.info,
            "kpis": out.kpis.copy(),
            "measured": measured,
            "truncation_reason": list(self._reasons),
            "sim_time_s": np.array([ws.sim_time_s if ws is not None else np.nan for ws in steps]),
            "seeds": list(self._seeds),
        }
        if self.spec.global_kpi_names:  # [B, G], zeros where a worker measured none
            info["global_kpis"] = out.global_kpis
        sent = [ws.agent_rewards for ws in steps if ws is not None and ws.agent_rewards is not None]
        if sent:  # optional per-agent rewards [B, N, C], zeros where a worker sent none
            r = np.zeros((self.num_envs, *sent[0].shape), np.float32)
            for i, ws in enumerate(steps):
                if ws is not None and ws.agent_rewards is not None:
                    r[i] = ws.agent_rewards
            info["agent_rewards"] = r
        return info

    def _end_episode(self, reason: str) -> None:
        """Close every live session and stop the launched simulators of the last episode."""
        for sid in self._sessions:
            if sid is not None:
                self.server.close_session(sid, reason)
        if self.launcher is not None and any(p is not None for p in self._procs):
            # give the simulators a moment to take their Close and say goodbye, then stop them
            deadline = time.monotonic() + 0.5
            while any(p is not None and p.alive() for p in self._procs) and \
                    time.monotonic() < deadline:
                self.server.poll(0.02)
            self.launcher.stop_all(grace_s=1.0)
        self._sessions = [None] * self.num_envs
        self._procs = [None] * self.num_envs
        self._slot_of.clear()
        self._done[:] = True
        self._needs_reset = True
