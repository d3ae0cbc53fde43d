"""`xr-marl serve`: an agent server for simulators started elsewhere (another host, compose).

Binds one bridge socket and answers every simulator that connects with a policy of its own
(rule baselines by name, or a trained checkpoint), building observations and rewards from the
simulator's raw KPIs with its scenario's glue when it sends only those. The scenario of a
simulator is the registered one its Hello names (by name or ns-3 binary); ``--env`` restricts
the server to one, and any of that scenario's own flags given on the command line become
settings the simulators must match (their spec and announced parameters). Each finished
episode prints one summary line (``--json``: one JSON object per line); ``--episodes N``
stops after N episodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from xr_codec_marl.commands.common import positive_float, positive_int, selected_scenario
from xr_codec_marl.core.api import Observation
from xr_codec_marl.errors import UsageError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a policy to simulators started elsewhere")
    p.add_argument("--bind", type=bind_endpoint, default="tcp://127.0.0.1:5555",
                   metavar="ENDPOINT",
                   help="tcp://HOST:PORT (PORT 1-65535, or * for any free one) or ipc://PATH "
                        "(default tcp://127.0.0.1:5555)")
    p.add_argument("--policy", default=None,
                   help="a rule of the simulator's scenario (default: its reference policy), max, "
                        "min, random, fixed:K (always the K-th action), or a checkpoint path")
    p.add_argument("--episodes", type=positive_int, default=None,
                   help="stop after this many episodes (default: serve until interrupted)")
    p.add_argument("--env", default=None,
                   help="only serve simulators of this scenario (default: any registered one)")
    p.add_argument("--episode-limit", type=positive_int, default=None, metavar="STEPS",
                   help="the decision steps per episode the simulators must announce")
    scenario = selected_scenario()
    if scenario is not None:
        group = p.add_argument_group(
            f"scenario {scenario.name} (with --env {scenario.name}; each flag given is a setting "
            "the simulators must match)")
        scenario.add_arguments(group)
        for action in group._group_actions:  # only what the user gives counts
            action.default = argparse.SUPPRESS
    p.add_argument("--timeout", type=positive_float, default=30.0, metavar="SECONDS",
                   help="a simulator silent this long is dropped (default 30)")
    p.add_argument("--json", action="store_true", help="one JSON object per episode on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log every session event")
    p.set_defaults(func=run)


def bind_endpoint(text: str) -> str:
    """argparse type of ``--bind``: a port ZeroMQ would silently wrap is refused here."""
    from xr_codec_marl.bridge.server import check_endpoint

    try:
        return check_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _reference_factory() -> Callable:
    """``factory(spec)`` building the reference policy of the scenario the spec names."""

    def make(spec):
        from xr_codec_marl.baselines import make_policy
        from xr_codec_marl.core.registry import find_scenario

        scenario = find_scenario(str(spec.extra.get("scenario", spec.name)))
        ref = scenario.reference_policy if scenario is not None else None
        return make_policy(ref or "random", spec)

    return make


def policy_factory(name: str) -> Callable:
    """``factory(spec)`` building the named policy; imported lazily (baselines, learners)."""

    def make(spec):
        from xr_codec_marl.baselines import make_policy

        return make_policy(name, spec)

    return make


@dataclass
class SessionAgent:
    """One simulator's policy, and its episode's KPIs for the summary.

    Rewards are only needed for the summary here, so they are computed once per episode from
    the stored KPIs (vectorised), keeping the per-step path to: arrays -> policy -> actions.
    """

    policy: object
    features: object
    spec: object
    #: reward component names of the glue's rewards (the scenario's declared ones)
    components: tuple[str, ...] = ()
    prev_actions: np.ndarray | None = None
    #: the continuous values ``[1, N, D]`` of the last actions (hybrid action spaces; None:
    #: discrete), sent with them
    continuous: np.ndarray | None = None
    kpi_history: list = field(default_factory=list)
    sent_rewards: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _returned: float | None = None

    @property
    def translator(self) -> bool:
        """The glue translates raw reports (the policy sees its env spec's outputs)."""
        from xr_codec_marl.core.scenario import Ns3Translator

        return isinstance(self.features, Ns3Translator)

    def act(self, step) -> list[int]:
        """Actions for one wire step (obs/state built from KPIs when the sim sent none, or
        everything translated from its raw report by a translating glue)."""
        spec = self.spec
        if self.translator:
            return self._act_translated(step)
        kpis = step.kpis
        if kpis is None:
            kpis = np.zeros((spec.n_agents, len(spec.kpi_names)), np.float32)
        k = kpis[None]
        if self.prev_actions is None:
            self.prev_actions = self.features.initial_actions(k, spec.n_actions - 1)
        obs, state = step.obs, step.state
        if obs is None or state is None:
            b_obs, b_state = self.features.observe(self.prev_actions, k)
            obs = b_obs[0] if obs is None else obs
            state = b_state[0] if state is None else state
        self.kpi_history.append(kpis)
        if step.rewards is not None and step.step_index > 0:
            self.sent_rewards.append(step.rewards)
        if step.done:
            return []
        ob = Observation(obs[None], state[None], step.avail_actions[None], {"kpis": k})
        actions = self._split(self.policy.act(ob))
        self.prev_actions = actions
        return actions[0].tolist()

    def _act_translated(self, step) -> list[int]:
        """A raw report translated by the scenario's glue (the env spec's outputs)."""
        wire = self.features.wire_spec()
        kpis = step.kpis if step.kpis is not None else np.zeros(
            (wire.n_agents, len(wire.kpi_names)), np.float32)
        gk = step.global_kpis if step.global_kpis is not None else np.zeros(
            len(wire.global_kpi_names), np.float32)
        now = time.monotonic()
        decision_ms = 0.0 if self._returned is None else (now - self._returned) * 1e3
        t = self.features.translate(kpis[None], gk[None], np.ones(1, bool), decision_ms,
                                    step.step_index == 0,
                                    np.array([step.sim_time_s], np.float64))
        self.kpi_history.append(t.kpis[0])
        if step.step_index > 0:
            self.sent_rewards.append(t.rewards[0])
        if step.done:
            return []
        ob = Observation(t.obs, t.state, t.avail,
                         {"kpis": t.kpis, "global_kpis": t.global_kpis, **t.info})
        actions = self._split(self.policy.act(ob))
        self._returned = time.monotonic()
        return actions[0].tolist()

    def _split(self, acted) -> np.ndarray:
        """The joint discrete index of a policy's actions; their continuous values, if any,
        kept in ``continuous``."""
        from xr_codec_marl.core.api import split_actions

        discrete, self.continuous = split_actions(acted)
        return np.asarray(discrete)

    def summary(self) -> dict[str, object]:
        """Windows played, mean KPIs (overall and per agent) and mean reward components."""
        spec = self.spec
        windows = len(self.kpi_history) - 1  # step 0 is the start-up observation
        out: dict[str, object] = {"windows": max(windows, 0),
                                  "wall_s": round(time.monotonic() - self.started, 3)}
        if windows < 1:
            return out
        hist = np.stack(self.kpi_history).astype(np.float64)  # [T + 1, N, K]
        mean = hist[1:].mean(axis=0)
        out["kpis"] = {k: float(mean[:, j].mean()) for j, k in enumerate(spec.kpi_names)}
        out["per_agent"] = {a: {k: float(mean[i, j]) for j, k in enumerate(spec.kpi_names)}
                            for i, a in enumerate(spec.agent_ids)}
        if self.sent_rewards:
            rewards = np.stack(self.sent_rewards)
            comps = spec.reward_components
        elif not self.features.problems():
            rewards = self.features.rewards(hist[1:], hist[:-1])
            comps = self.components
        else:
            return out
        out["mean_rewards"] = {c: float(r) for c, r in zip(comps, rewards.mean(axis=0))}
        return out


def serve_sessions(
    server,
    make_policy: Callable,
    episodes: int | None = None,
    on_episode: Callable[[object, object, dict], None] | None = None,
    settings: dict | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Answer every simulator on ``server`` with its own policy until ``episodes`` ended.

    Each simulator's policy is built while its hello is admitted, so one the policy cannot
    serve (a KPI it needs is missing, say) is refused with an ``Error`` naming why instead of
    being welcomed. Whatever raises while building or running a policy ends only that
    simulator's session (fatal ``CODE_INTERNAL`` error, one log line), never the server.
    ``settings`` (scenario settings, e.g. reward shaping) configure the glue that builds
    observations and rewards from raw KPIs. Returns the number of episodes that ended.
    """
    from xr_codec_marl.bridge.wire import Code, WireError
    from xr_codec_marl.bridge.server import Ended, Joined, StepReceived
    from xr_codec_marl.errors import describe_exception

    agents: dict[str, SessionAgent] = {}
    admitted: list[tuple[object, SessionAgent]] = []  # (hello, agent) welcomed this poll
    outer_admit = server.admit

    def new_agent(spec, seed: int) -> SessionAgent:
        from xr_codec_marl.bridge.wire import spec_differences
        from xr_codec_marl.core.scenario import Ns3Translator

        glue, components = session_glue(spec, settings or {})
        if isinstance(glue, Ns3Translator):
            problems = glue.problems() or spec_differences(spec, glue.wire_spec())
            if problems:  # name lists can be long: a readable line, each difference cut short
                short = [p if len(p) <= 120 else p[:117] + "..." for p in problems]
                raise ValueError("the simulator's raw report does not match this server's "
                                 "settings (give serve the simulator's scenario flags): "
                                 + "; ".join(short))
        if hasattr(glue, "wire_spec"):
            # the policy sees the glue's env spec (translated, or with the features it adds)
            spec = glue.spec
        policy = make_policy(spec)
        policy.reset(1, seed=seed)
        return SessionAgent(policy, glue, spec, components)

    def admit(hello, spec):
        refusal = outer_admit(hello, spec) if outer_admit is not None else None
        if refusal is not None:
            return refusal
        try:
            admitted.append((hello, new_agent(spec, int(hello.seed))))
        except Exception as exc:  # noqa: BLE001 - any policy bug ends this session only
            raise WireError(Code.CODE_INTERNAL,
                            f"no policy for this simulator: {describe_exception(exc)}") from None
        return None

    def abort(sid: str, code: int, why: str) -> None:
        agents.pop(sid, None)
        server.abort_session(sid, code, why)

    server.admit = admit
    ended = 0
    try:
        while (episodes is None or ended < episodes) and not should_stop():
            for ev in server.poll(0.2):
                sid = ev.session.session_id
                if isinstance(ev, StepReceived):  # the hot path first
                    agent = agents.get(sid)
                    if agent is None:
                        abort(sid, Code.CODE_INTERNAL, "no policy for this session")
                        continue
                    try:
                        actions = agent.act(ev.step)
                    except Exception as exc:  # noqa: BLE001 - the policy's fault: this session
                        abort(sid, Code.CODE_INTERNAL, f"policy failed: {describe_exception(exc)}")
                        continue
                    if not ev.step.done:
                        try:
                            server.send_action(sid, actions, None if agent.continuous is None
                                               else agent.continuous[0])
                        except ValueError as exc:
                            abort(sid, Code.CODE_ACTION, f"policy gave {exc}")
                elif isinstance(ev, Joined):
                    hello = ev.session.hello
                    agent = next((a for h, a in admitted if h is hello), None)
                    if agent is None:  # admitted by someone else's hook: build it now
                        try:
                            agent = new_agent(ev.session.spec, ev.session.seed)
                        except Exception as exc:  # noqa: BLE001
                            abort(sid, Code.CODE_INTERNAL,
                                  f"no policy for this simulator: {describe_exception(exc)}")
                            continue
                    agents[sid] = agent
                elif isinstance(ev, Ended):
                    agent = agents.pop(sid, None)
                    ended += 1
                    if on_episode is not None:
                        on_episode(ev.session, ev, _summary(agent, sid))
            admitted.clear()  # every welcome of this poll has had its Joined
    finally:
        server.admit = outer_admit
    return ended


def _summary(agent: SessionAgent | None, sid: str) -> dict[str, object]:
    """The episode's summary; a summary that fails loses its numbers, not the server."""
    if agent is None:
        return {"windows": 0}
    try:
        return agent.summary()
    except Exception as exc:  # noqa: BLE001
        from xr_codec_marl.errors import describe_exception

        log.warning("session %s: no summary: %s", sid, describe_exception(exc))
        return {"windows": max(len(agent.kpi_history) - 1, 0)}


def session_glue(spec, settings: dict) -> tuple[object, tuple[str, ...]]:
    """The glue of the scenario a simulator's spec names (and its reward component names),
    or one that can build nothing when the scenario is unknown or has none."""
    from xr_codec_marl.core.registry import find_scenario
    from xr_codec_marl.core.scenario import NoGlue

    scenario = find_scenario(str(spec.extra.get("scenario", spec.name)))
    if scenario is None:
        return NoGlue(), tuple(spec.reward_components)
    from xr_codec_marl.core.scenario import Ns3Translator

    own = {k: v for k, v in settings.items() if k in scenario.setting_names()}
    made = scenario.make_settings(**own)
    glue = scenario.ns3_glue(spec, made)
    if isinstance(glue, Ns3Translator):  # it translates into the settings' env spec
        glue = scenario.ns3_glue(scenario.env_spec(made), made)
    names = tuple(r.name for r in scenario.rewards) or tuple(spec.reward_components)
    return (glue if glue is not None else NoGlue()), names


def _expected(args: argparse.Namespace):
    """``(scenario, settings given on the command line, expected spec or None)``.

    Without ``--env``, giving one of the default scenario's own flags
    selects that scenario."""
    from xr_codec_marl.core.registry import get_scenario

    probe = selected_scenario()
    explicit: set[str] = set()
    defaults = argparse.ArgumentParser(add_help=False)
    if probe is not None:
        probe.add_arguments(defaults)
        explicit = {a.dest for a in defaults._actions if a.dest in vars(args)}
    if args.env is None and not explicit:
        if args.episode_limit is not None:
            raise UsageError("--episode-limit needs --env or a scenario setting")
        return None, {}, None
    scenario = get_scenario(args.env) if args.env is not None else probe
    given: dict = {}
    if explicit and probe is scenario:
        full = defaults.parse_args([])
        vars(full).update({d: getattr(args, d) for d in explicit})
        full.backend = "ns3"
        kw = scenario.kwargs_from_args(full)
        given = {k: v for k, v in kw.items() if k in scenario.setting_names()}
    if args.episode_limit is not None:
        given["episode_limit"] = args.episode_limit
    if not given:
        return scenario, {}, None
    try:
        return scenario, given, scenario.expected_spec(given)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _matches(scenario, given: dict, hello) -> str | None:
    """Why a simulator's announced parameters disagree with the settings given (None: agree)."""
    from xr_codec_marl.core.registry import find_scenario

    if scenario is not None and find_scenario(hello.scenario) is not scenario:
        return f"simulator scenario {hello.scenario!r}, this server serves {scenario.name!r}"
    for name, want in given.items():
        if name not in hello.parameters or isinstance(want, (tuple, list, dict)):
            continue
        text = hello.parameters[name]
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            try:
                got = float(text)
            except ValueError:
                return f"simulator {name} {text[:40]!r} is not a number"
            if not math.isclose(got, float(want), rel_tol=1e-6):
                return f"simulator {name} {got:g}, this server serves {want:g}"
        elif str(want).lower() != text.lower():
            return f"simulator {name} {text[:40]!r}, this server serves {want!r}"
    return None


def run(args: argparse.Namespace) -> int:
    from xr_codec_marl.baselines import policy_kind, policy_names
    from xr_codec_marl.bridge.server import BridgeServer

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scenario, given, expected = _expected(args)
    name = args.policy
    if name is None:
        name = (scenario.reference_policy if scenario is not None else None) or "random"
    make = policy_factory(name)
    if expected is not None:
        make(expected)  # a bad policy name or checkpoint fails now, not per simulator
    elif policy_kind(name, args.env) is None:
        from xr_codec_marl.errors import choice_error

        raise choice_error("policy", name, policy_names(args.env))
    if args.policy is None and scenario is None:
        make = _reference_factory()

    def admit(hello, spec):
        return _matches(scenario, given, hello)

    try:
        server = BridgeServer(args.bind, expected_spec=expected, timeout_s=args.timeout,
                              admit=admit)
    except OSError as exc:
        raise UsageError(str(exc)) from None
    print(f"xr-marl serve: policy {args.policy or 'reference'} on {server.endpoint}",
          file=sys.stderr, flush=True)

    def on_episode(session, ev, summary):
        rec = {"session": session.session_id, "seed": session.seed,
               "scenario": session.hello.scenario,
               # what the simulator announced of itself (its RAN and settings)
               "simulator": dict(session.hello.parameters),
               "clean": ev.clean, "reason": ev.reason, **summary}
        if args.json:
            print(json.dumps(rec), flush=True)
        else:
            k = summary.get("kpis", {})
            shown = ", ".join(f"{n} {v:.4g}" for n, v in list(k.items())[:3])
            print(f"episode {session.session_id} seed {session.seed}: "
                  f"{'ok' if ev.clean else 'TRUNCATED (' + ev.reason + ')'}, "
                  f"{summary['windows']} windows" + (f", {shown}" if shown else ""), flush=True)

    def on_sigterm(signum, frame):  # `docker stop`, compose down: leave like on Ctrl-C
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        serve_sessions(server, make, args.episodes, on_episode, settings=given)
    finally:
        server.close()  # simulators waiting on us get Close, not a timeout
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
