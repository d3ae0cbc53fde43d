"""The explanation framework of seed 002 Fig. 6: explain every learner on one shared trajectory.

A reference policy (the scenario's ``reference_policy`` by default) drives the environment.
At every window each decomposed learner is fed the same observation together with the joint
action the *reference* took before it (``prev_actions``), so its recurrent state follows the
trajectory the reference produced; its per-component Q-values are then explained with RDFX
and MSX (``metrics``).

Which action is "chosen"? By default the learner's own greedy action
``argmax_u Σ_c Q_c(τ, u)`` (Algorithms 1–2, line 16; ``Σ_c l_c Q_c`` for MHA learners that
act with importance weights) — what the learner *would* do in that state. That is what the
paper's Figs. 7–11 describe ("the selected action", RDFX positive for "all actions chosen by
each algorithm"), and it makes RDFX/MSX explain the learner's own preference rather than the
reference's. ``anchor="reference"`` explains the reference's action through the learner's Q
instead (how the learner judges what the reference did).

Learners whose action values condition on the other agents' *current* actions (a
policy-gradient run's action-value critic ``Q_c(s, a_{-i}, u)``) say so with
``needs_joint_actions`` and get the reference's joint action of the window (``joint_actions``);
those that act otherwise than by their Q-values (an actor) give their own action with
``chosen_actions(step)``. Hybrid actions are explained on their discrete part; options a
learner gives no value for (``-inf``) are left out of its comparisons like unavailable ones.

RDFX's "inc"/"dec" comparisons (the next higher / lower action) need an *ordered* action
space: for agents whose space is not ordered (``AgentSpec.space.ordered``) every inc/dec
column is NaN. When the spec has such agents the table also carries the comparison any
discrete space allows — the chosen action vs its strongest alternative (``alt_*`` columns,
:data:`ALT_COLUMNS`, for every agent) — so RDX and MSX still explain them.

Output is a tidy :class:`pandas.DataFrame`, one row per (algorithm, episode, window t, env,
agent, component); see :func:`explanation_columns`. The scenario settings the run used (its
recorded settings, e.g. its sweep axis values) are columns between ``backend`` and ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from xr_codec_marl.core.api import EnvSpec, Observation, VecMultiAgentEnv, split_actions
from xr_codec_marl.experiments.compare import setting_columns  # noqa: F401  (re-exported)
from xr_codec_marl.explain.metrics import explain_q
from xr_codec_marl.policy import ExplainablePolicy, Policy

Anchor = Literal["learner", "reference"]

#: Columns of the explanation table before the settings columns.
HEAD_COLUMNS: tuple[str, ...] = ("algorithm", "reference", "backend")

#: Columns of the explanation table after the settings columns, in order.
COLUMNS: tuple[str, ...] = (
    "seed", "episode", "t", "env", "agent",
    "component", "chosen_action", "reference_action", "inc_action", "dec_action", "q_chosen",
    "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_minus_inc", "msx_plus_dec", "msx_minus_dec",
    "msx_plus_inc_size", "msx_minus_inc_size", "msx_plus_dec_size", "msx_minus_dec_size",
)  # fmt: skip

#: The strongest-alternative comparison, present when some agent's actions are unordered.
ALT_COLUMNS: tuple[str, ...] = (
    "alt_action", "rdx_alt", "msx_plus_alt", "msx_minus_alt", "msx_plus_alt_size",
    "msx_minus_alt_size",
)  # fmt: skip

#: Columns of the inc/dec comparisons (NaN for agents with unordered actions).
ORDERED_ONLY: tuple[str, ...] = (
    "inc_action", "dec_action", "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_minus_inc",
    "msx_plus_dec", "msx_minus_dec", "msx_plus_inc_size", "msx_minus_inc_size",
    "msx_plus_dec_size", "msx_minus_dec_size",
)  # fmt: skip

#: KPI table columns before the settings and after them (then one column per KPI key).
KPI_HEAD: tuple[str, ...] = ("policy", "backend")
KPI_COLUMNS: tuple[str, ...] = ("seed", "episode", "env", "agent")

_PER_COMPONENT = ("q_chosen", "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_minus_inc",
                  "msx_plus_dec", "msx_minus_dec")  # fmt: skip


def explanation_columns(settings: Sequence[str] = (), alt: bool = False) -> list[str]:
    """The explanation table's columns for these settings columns (``alt``: with
    :data:`ALT_COLUMNS`)."""
    return [*HEAD_COLUMNS, *settings, *COLUMNS, *(ALT_COLUMNS if alt else ())]


def kpi_columns(settings: Sequence[str] = (), kpis: Sequence[str] = ()) -> list[str]:
    """The KPI table's columns: policy, backend, settings, seed, episode, env, agent, KPIs."""
    return [*KPI_HEAD, *settings, *KPI_COLUMNS, *kpis]


def run_settings(spec: EnvSpec, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings columns of a run: ``settings`` when given, else the spec's recorded ones."""
    if settings is not None:
        return dict(settings)
    from xr_codec_marl.core.registry import recorded_settings

    return recorded_settings(spec)


def unordered_agents(spec: EnvSpec) -> list[str]:
    """Agents whose action space is not ordered (RDFX inc/dec is undefined for them)."""
    return [a.agent_id for a in spec.agents if not getattr(a.space, "ordered", False)]


def explain_episodes(
    env: VecMultiAgentEnv,
    reference: Policy,
    learners: Mapping[str, ExplainablePolicy],
    episodes: int,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    backend: str = "",
    anchor: Anchor = "learner",
) -> pd.DataFrame:
    """Run ``episodes`` batches of ``env.num_envs`` episodes driven by ``reference``; explain each learner.

    Episode ``e`` resets the environment and every policy with seed ``seed + e``. At the first
    window ``prev_actions`` is ``None`` ("no previous action"): the training runner feeds the
    agents an all-zero last-action one-hot there, so a learner is explained on inputs like those
    it was trained on, not on a made-up initial action. ``settings`` (setting -> value) become
    columns (default: the spec's recorded settings). Returns the tidy table
    (:func:`explanation_columns`). Raises ``ValueError`` when a learner's Q-values do not have
    shape ``[B, N, C, A]`` matching the environment spec.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if anchor not in ("learner", "reference"):
        raise ValueError(f"anchor must be 'learner' or 'reference', got {anchor!r}")
    spec, b = env.spec, env.num_envs
    values = run_settings(spec, settings)
    alt = bool(unordered_agents(spec))
    frames: list[pd.DataFrame] = []
    for ep in range(episodes):
        ep_seed = seed + ep
        step: Observation = env.reset(seed=ep_seed)
        reference.reset(b, seed=ep_seed)
        for learner in learners.values():
            learner.reset(b, seed=ep_seed)
        prev: np.ndarray | None = None  # no action before the first window (see docstring)
        rec: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in learners}
        ref_actions: list[np.ndarray] = []
        choices: list[np.ndarray] = []  # [B, N]: the agent had more than one action to pick
        for _t in range(spec.episode_limit):
            avail = np.asarray(step.avail_actions, bool)
            choices.append(avail.sum(-1) > 1)
            taken = reference.act(step, explore=False)  # int [B, N] or HybridActions
            actions = np.asarray(split_actions(taken)[0], dtype=np.int64)
            for name, learner in learners.items():
                extra = {"joint_actions": taken} if getattr(learner, "needs_joint_actions",
                                                            False) else {}
                q = np.asarray(learner.q_values(step, prev, **extra), dtype=np.float64)
                _check_q(name, q, spec, b, len(learner.component_names))
                chosen = actions if anchor == "reference" else learner_greedy(learner, q, step)
                rec[name].append(explain_q(q, chosen=chosen, avail=avail & np.isfinite(q).all(-2),
                                           alt=alt, weights=_weights(learner, q)))
            ref_actions.append(actions)
            step = env.step(taken)
            prev = actions
            if np.asarray(step.done).any():
                break
        for name, learner in learners.items():
            frames.append(
                _to_frame(name, getattr(reference, "name", "reference"), rec[name],
                          np.stack(ref_actions), spec, learner.component_names,
                          backend, values, seed, ep, alt, np.stack(choices))
            )  # fmt: skip
    if not frames:
        return pd.DataFrame(columns=explanation_columns(list(values), alt))
    return pd.concat(frames, ignore_index=True)


def learner_greedy(learner: ExplainablePolicy, q: np.ndarray, step: Observation) -> np.ndarray:
    """The learner's own greedy action ``[B, N]``: ``argmax_u Σ_c Q_c`` over available actions.

    MHA learners trained with ``importance_in_action`` act on ``argmax_u Σ_c l_c Q_c``; their
    ``action_weights`` (``[C]``) are honoured so "chosen" is what the learner would really do.
    A learner that acts otherwise (an actor) gives its action with ``chosen_actions(step)``.
    """
    own = getattr(learner, "chosen_actions", None)
    if own is not None:
        return np.asarray(own(step), dtype=np.int64)
    w = _weights(learner, q)
    avail = np.asarray(step.avail_actions, bool)
    total = np.where(np.isfinite(q), q, 0.0) * w[:, None]
    return np.where(avail, total.sum(axis=-2), -np.inf).argmax(axis=-1)


def _weights(learner: ExplainablePolicy, q: np.ndarray) -> np.ndarray:
    """The component weights the learner ranks actions by (its ``action_weights``, else 1)."""
    weights = getattr(learner, "action_weights", None)
    return np.ones(q.shape[-2]) if weights is None else np.asarray(weights, np.float64).reshape(-1)


def _check_q(name: str, q: np.ndarray, spec: EnvSpec, b: int, c: int) -> None:
    want = (b, spec.n_agents, c, spec.n_actions)
    if q.shape != want:
        raise ValueError(f"learner {name!r} returned Q-values of shape {q.shape}, expected {want}")


def _to_frame(
    algorithm: str,
    reference: str,
    rec: list[dict[str, np.ndarray]],
    ref_actions: np.ndarray,
    spec: EnvSpec,
    components: tuple[str, ...],
    backend: str,
    settings: Mapping[str, Any],
    seed: int,
    episode: int,
    alt: bool = False,
    choices: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flatten one episode batch of per-step explanations ``[T, B, N(, C)]`` into tidy rows.

    Windows in which an agent had a single available action (``choices [T, B, N]`` False,
    e.g. no task to decide) are left out: nothing was chosen there, so nothing to explain."""
    arr = {k: np.stack([r[k] for r in rec]) for k in rec[0]}  # [T, B, N, C] or [T, B, N]
    t, b, n, c = arr["q_chosen"].shape
    tt, ee, aa, cc = np.indices((t, b, n, c)).reshape(4, -1)
    per_step = {"chosen_action": arr["chosen"], "reference_action": ref_actions,
                "inc_action": arr["inc"], "dec_action": arr["dec"]}  # fmt: skip
    data: dict[str, object] = {"algorithm": algorithm, "reference": reference, "backend": backend}
    data.update(settings)
    data.update({
        "seed": seed,
        "episode": episode,
        "t": tt,
        "env": ee,
        "agent": np.asarray(spec.agent_ids)[aa],
        "component": np.asarray(components)[cc],
    })
    for key, val in per_step.items():
        data[key] = np.repeat(val.reshape(-1), c)
    for key in _PER_COMPONENT:
        data[key] = arr[key].reshape(-1)
    for key in ("msx_plus_inc", "msx_minus_inc", "msx_plus_dec", "msx_minus_dec"):
        data[f"{key}_size"] = np.repeat(arr[key].sum(axis=-1).reshape(-1), c)
    if alt:
        data["alt_action"] = np.repeat(arr["alt"].reshape(-1), c)
        data["rdx_alt"] = arr["rdx_alt"].reshape(-1)
        for key in ("msx_plus_alt", "msx_minus_alt"):
            data[key] = arr[key].reshape(-1)
            data[f"{key}_size"] = np.repeat(arr[key].sum(axis=-1).reshape(-1), c)
    frame = pd.DataFrame(data, columns=explanation_columns(list(settings), alt))
    unordered = np.array([not getattr(a.space, "ordered", False) for a in spec.agents])
    if unordered.any():  # inc/dec mean nothing without an order: NaN, not made-up numbers
        rows = unordered[aa]
        for key in ORDERED_ONLY:
            frame[key] = frame[key].astype(np.float64)
            frame.loc[rows, key] = np.nan
    if choices is not None and not choices.all():
        frame = frame[np.repeat(choices.reshape(-1), c)].reset_index(drop=True)
    return frame


def collect_kpis(
    env: VecMultiAgentEnv,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    backend: str = "",
    name: str | None = None,
) -> pd.DataFrame:
    """Let ``policy`` drive (greedy) and average the declared KPIs over each episode's windows.

    One row per (episode, env, agent) with :func:`kpi_columns`: every declared KPI of the spec
    by its result key (agent-scope KPIs per agent; global KPIs repeated on each agent row) —
    the input of the Fig. 14 comparison. ``settings`` become columns (default: the spec's
    recorded settings). Raises ``ValueError`` when the spec declares no KPI it reports.
    """
    spec, b = env.spec, env.num_envs
    values = run_settings(spec, settings)
    agent = [(k.key, spec.kpi_names.index(k.name)) for k in spec.kpis
             if k.scope == "agent" and k.name in spec.kpi_names]
    glob = [(k.key, spec.global_kpi_names.index(k.name)) for k in spec.kpis
            if k.scope == "global" and k.name in spec.global_kpi_names]
    # event-averaged KPIs (``KpiSpec.per``) weigh each window by their event count
    names = {**{n: ("agent", i) for i, n in enumerate(spec.kpi_names)},
             **{n: ("global", i) for i, n in enumerate(spec.global_kpi_names)}}
    by_key = {k.key: k for k in spec.kpis}
    per = [names.get(by_key[key].per) if by_key[key].per else None
           for key, _ in (*agent, *glob)]
    if not agent and not glob:
        raise ValueError(f"environment {spec.name!r} reports none of its declared KPIs")
    keys = [k for k, _ in agent] + [k for k, _ in glob]
    rows = []
    for ep in range(episodes):
        step: Observation = env.reset(seed=seed + ep)
        policy.reset(b, seed=seed + ep)
        windows, weights = [], []
        for _t in range(spec.episode_limit):
            step = env.step(policy.act(step, explore=False))
            per_agent = np.asarray(step.info["kpis"], dtype=np.float64)[..., [c for _, c in agent]]
            if glob:
                g = np.asarray(step.info["global_kpis"], dtype=np.float64)[:, [c for _, c in glob]]
                per_agent = np.concatenate(
                    [per_agent, np.repeat(g[:, None, :], spec.n_agents, axis=1)], axis=-1)
            windows.append(per_agent)
            weights.append(_window_weights(step, per, spec.n_agents))
            if np.asarray(step.done).any():
                break
        w = np.asarray(weights)  # [T, B, N, K']
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (np.asarray(windows) * w).sum(0) / w.sum(0)  # [B, N, K']
        ee, aa = np.indices(mean.shape[:2]).reshape(2, -1)
        frame = pd.DataFrame(mean.reshape(-1, len(keys)), columns=keys)
        frame.insert(0, "agent", np.asarray(spec.agent_ids)[aa])
        frame.insert(0, "env", ee)
        frame.insert(0, "episode", ep)
        frame.insert(0, "seed", seed)
        for setting, value in reversed(list(values.items())):
            frame.insert(0, setting, value)
        frame.insert(0, "backend", backend)
        frame.insert(0, "policy", name or getattr(policy, "name", "policy"))
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)[kpi_columns(list(values), keys)]


def write_table(table: pd.DataFrame, path_stem: str) -> list[str]:
    """Write ``<stem>.csv`` (always) and ``<stem>.parquet`` when pyarrow/fastparquet exist."""
    paths = [f"{path_stem}.csv"]
    table.to_csv(paths[0], index=False)
    try:
        table.to_parquet(f"{path_stem}.parquet", index=False)
        paths.append(f"{path_stem}.parquet")
    except ImportError:
        pass
    return paths


def _window_weights(step: Observation, per: list[tuple[str, int] | None], n_agents: int) -> np.ndarray:
    """``[B, N, K']`` weights of one window's KPIs: 1, or the event count a KPI is ``per``."""
    kpis = np.asarray(step.info["kpis"], dtype=np.float64)
    glob = np.asarray(step.info.get("global_kpis", np.zeros((kpis.shape[0], 0))), dtype=np.float64)
    cols = []
    for p in per:
        if p is None:
            cols.append(np.ones(kpis.shape[:2]))
        elif p[0] == "agent":
            cols.append(kpis[..., p[1]])
        else:
            cols.append(np.repeat(glob[:, None, p[1]], n_agents, axis=1))
    return np.stack(cols, axis=-1) if cols else np.ones((*kpis.shape[:2], 0))
