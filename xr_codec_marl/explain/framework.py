"""The explanation framework of seed 002 Fig. 6: explain every learner on one shared trajectory.

A reference policy (APS by default) drives the environment. At every window each decomposed
learner is fed the same observation together with the joint action the *reference* took
before it (``prev_actions``), so its recurrent state follows the trajectory the reference
produced; its per-component Q-values are then explained with RDFX and MSX (``metrics``).

Which action is "chosen"? By default the learner's own greedy action
``argmax_u Σ_c Q_c(τ, u)`` (Algorithms 1–2, line 16; ``Σ_c l_c Q_c`` for MHA learners that
act with importance weights) — what the learner *would* do in that state. That is what the paper's Figs. 7–11 describe ("the selected action", RDFX positive for
"all actions chosen by each algorithm"), and it makes RDFX/MSX explain the learner's own
preference rather than the reference's. ``anchor="reference"`` explains the reference's
action through the learner's Q instead (how the learner judges what APS did).

Output is a tidy :class:`pandas.DataFrame`, one row per (algorithm, episode, window t, env,
agent, component); see :data:`COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from xr_codec_marl.core.api import EnvSpec, Observation, VecMultiAgentEnv
from xr_codec_marl.explain.metrics import explain_q
from xr_codec_marl.policy import ExplainablePolicy, Policy

Anchor = Literal["learner", "reference"]

#: Columns of the explanation table, in order.
COLUMNS: tuple[str, ...] = (
    "algorithm", "reference", "backend", "ring_m", "seed", "episode", "t", "env", "agent",
    "component", "chosen_action", "reference_action", "inc_action", "dec_action", "q_chosen",
    "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_minus_inc", "msx_plus_dec", "msx_minus_dec",
    "msx_plus_inc_size", "msx_minus_inc_size", "msx_plus_dec_size", "msx_minus_dec_size",
)  # fmt: skip

#: KPI table columns (the Fig. 14 input; ``xr_index`` is the XQI of Table I).
KPI_COLUMNS: tuple[str, ...] = (
    "policy", "backend", "ring_m", "seed", "episode", "env", "agent",
    "xr_index", "jitter_ms", "delay_ms", "plr", "throughput_mbps",
)  # fmt: skip

_KPI_SOURCES = {"xr_index": "xqi", "jitter_ms": "jitter_ms", "delay_ms": "delay_ms",
                "plr": "plr", "throughput_mbps": "throughput_mbps"}  # fmt: skip

_PER_COMPONENT = ("q_chosen", "rdfx_inc", "rdfx_dec", "msx_plus_inc", "msx_minus_inc",
                  "msx_plus_dec", "msx_minus_dec")  # fmt: skip


def explain_episodes(
    env: VecMultiAgentEnv,
    reference: Policy,
    learners: Mapping[str, ExplainablePolicy],
    episodes: int,
    seed: int = 0,
    ring_m: float = float("nan"),
    backend: str = "",
    anchor: Anchor = "learner",
) -> pd.DataFrame:
    """Run ``episodes`` batches of ``env.num_envs`` episodes driven by ``reference``; explain each learner.

    Episode ``e`` resets the environment and every policy with seed ``seed + e``. At the first
    window ``prev_actions`` is ``None`` ("no previous action"): the training runner feeds the
    agents an all-zero last-action one-hot there, so a learner is explained on inputs like those
    it was trained on, not on a made-up initial action. Returns the
    tidy table (:data:`COLUMNS`). Raises ``ValueError`` when a learner's Q-values do not have
    shape ``[B, N, C, A]`` matching the environment spec.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if anchor not in ("learner", "reference"):
        raise ValueError(f"anchor must be 'learner' or 'reference', got {anchor!r}")
    spec, b = env.spec, env.num_envs
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
        for _t in range(spec.episode_limit):
            actions = np.asarray(reference.act(step, explore=False), dtype=np.int64)
            for name, learner in learners.items():
                q = np.asarray(learner.q_values(step, prev), dtype=np.float64)
                _check_q(name, q, spec, b, len(learner.component_names))
                chosen = actions if anchor == "reference" else learner_greedy(learner, q, step)
                rec[name].append(explain_q(q, chosen=chosen, avail=step.avail_actions))
            ref_actions.append(actions)
            step = env.step(actions)
            prev = actions
            if np.asarray(step.done).any():
                break
        for name, learner in learners.items():
            frames.append(
                _to_frame(name, getattr(reference, "name", "reference"), rec[name],
                          np.stack(ref_actions), spec, learner.component_names,
                          backend, ring_m, seed, ep)
            )  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def learner_greedy(learner: ExplainablePolicy, q: np.ndarray, step: Observation) -> np.ndarray:
    """The learner's own greedy action ``[B, N]``: ``argmax_u Σ_c Q_c`` over available actions.

    MHA learners trained with ``importance_in_action`` act on ``argmax_u Σ_c l_c Q_c``; their
    ``action_weights`` (``[C]``) are honoured so "chosen" is what the learner would really do.
    """
    weights = getattr(learner, "action_weights", None)
    w = np.ones(q.shape[-2]) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    avail = np.asarray(step.avail_actions, bool)
    total = np.where(np.isfinite(q), q, 0.0) * w[:, None]
    return np.where(avail, total.sum(axis=-2), -np.inf).argmax(axis=-1)


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
    ring_m: float,
    seed: int,
    episode: int,
) -> pd.DataFrame:
    """Flatten one episode batch of per-step explanations ``[T, B, N(, C)]`` into tidy rows."""
    arr = {k: np.stack([r[k] for r in rec]) for k in rec[0]}  # [T, B, N, C] or [T, B, N]
    t, b, n, c = arr["q_chosen"].shape
    tt, ee, aa, cc = np.indices((t, b, n, c)).reshape(4, -1)
    per_step = {"chosen_action": arr["chosen"], "reference_action": ref_actions,
                "inc_action": arr["inc"], "dec_action": arr["dec"]}  # fmt: skip
    data: dict[str, object] = {
        "algorithm": algorithm,
        "reference": reference,
        "backend": backend,
        "ring_m": float(ring_m),
        "seed": seed,
        "episode": episode,
        "t": tt,
        "env": ee,
        "agent": np.asarray(spec.agent_ids)[aa],
        "component": np.asarray(components)[cc],
    }
    for key, val in per_step.items():
        data[key] = np.repeat(val.reshape(-1), c)
    for key in _PER_COMPONENT:
        data[key] = arr[key].reshape(-1)
    for key in ("msx_plus_inc", "msx_minus_inc", "msx_plus_dec", "msx_minus_dec"):
        data[f"{key}_size"] = np.repeat(arr[key].sum(axis=-1).reshape(-1), c)
    return pd.DataFrame(data, columns=list(COLUMNS))


def collect_kpis(
    env: VecMultiAgentEnv,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    ring_m: float = float("nan"),
    backend: str = "",
    name: str | None = None,
) -> pd.DataFrame:
    """Let ``policy`` drive (greedy) and average its per-UE KPIs over each episode's windows.

    One row per (episode, env, agent) with :data:`KPI_COLUMNS` — the input of the Fig. 14
    comparison. Needs ``info["kpis"]`` with the ``spec.kpi_names`` XR KPIs on every step.
    """
    spec, b = env.spec, env.num_envs
    missing = [src for src in _KPI_SOURCES.values() if src not in spec.kpi_names]
    if missing:
        raise ValueError(f"environment reports no KPI(s) {missing}; has {list(spec.kpi_names)}")
    cols = [spec.kpi_index(src) for src in _KPI_SOURCES.values()]
    rows = []
    for ep in range(episodes):
        step: Observation = env.reset(seed=seed + ep)
        policy.reset(b, seed=seed + ep)
        windows = []
        for _t in range(spec.episode_limit):
            step = env.step(policy.act(step, explore=False))
            windows.append(np.asarray(step.info["kpis"], dtype=np.float64)[..., cols])
            if np.asarray(step.done).any():
                break
        mean = np.mean(windows, axis=0)  # [B, N, K']
        ee, aa = np.indices(mean.shape[:2]).reshape(2, -1)
        frame = pd.DataFrame(mean.reshape(-1, len(cols)), columns=list(_KPI_SOURCES))
        frame.insert(0, "agent", np.asarray(spec.agent_ids)[aa])
        frame.insert(0, "env", ee)
        frame.insert(0, "episode", ep)
        frame.insert(0, "seed", seed)
        frame.insert(0, "ring_m", float(ring_m))
        frame.insert(0, "backend", backend)
        frame.insert(0, "policy", name or getattr(policy, "name", "policy"))
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)[list(KPI_COLUMNS)]


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
