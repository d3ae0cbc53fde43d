"""The analytic MEC twin as an environment: spec and shapes, seeding, action masks, AoI,
failed servers, rule sanity, task conservation, the rule baselines and event-weighted KPIs.

The physics, settings, processes and radio have their own tests (``test_mec_models.py``),
the compute queues theirs (``test_mec_queues.py``); these run the whole twin.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.env.factory import env_spec, make_env
from xr_codec_marl.experiments.evaluation import evaluate_policy
from xr_codec_marl.scenarios.mec.actions import LOCAL, REJECT, action_table
from xr_codec_marl.scenarios.mec.kpis import MEC_AGENT_KPI_NAMES, MEC_GLOBAL_KPI_NAMES
from xr_codec_marl.scenarios.mec.rules import RULES, settings_of
from xr_codec_marl.scenarios.mec.settings import PRESETS, REWARD_COMPONENTS

G = {name: i for i, name in enumerate(MEC_GLOBAL_KPI_NAMES)}
NOT_WALL_CLOCK = [i for name, i in G.items() if name != "decision_ms"]
#: a task's ``inf`` repair time: a server forced down stays down
NEVER = 1e9


def mec(num_envs: int = 2, **kw):
    return make_env("mec", "analytic", num_envs, **kw)


def rollout(env, policy, seed: int, steps: int | None = None):
    """Obs, state, avail, rewards and global KPIs of one seeded batch of episodes."""
    step = env.reset(seed=seed)
    policy.reset(env.num_envs, seed=seed)
    out = {"obs": [step.obs], "state": [step.state], "avail": [step.avail_actions],
           "rewards": [], "global": [], "kpis": []}
    for _ in range(steps or env.spec.episode_limit):
        step = env.step(policy.act(step))
        out["obs"].append(step.obs)
        out["state"].append(step.state)
        out["avail"].append(step.avail_actions)
        out["rewards"].append(step.rewards)
        out["global"].append(step.info["global_kpis"])
        out["kpis"].append(step.info["kpis"])
    return {k: np.stack(v) for k, v in out.items()}


def action_index(table, server: int, alpha: float = 1.0, strongest: bool = True) -> int:
    """The multi-mec action offloading ``alpha`` to ``server`` at the highest power."""
    power = table.power_w[table.target >= 0].max() if strongest else \
        table.power_w[table.target >= 0].min()
    hit = (table.target == server) & np.isclose(table.alpha, alpha) & (table.power_w == power)
    assert hit.sum() == 1
    return int(np.flatnonzero(hit)[0])


def force_down(env, server: int, down: bool = True) -> None:
    """Take ``server`` down (or bring it up) in every copy, outside the failure process."""
    env.failures.up[:, server] = not down
    env.queues.up[:, server] = not down


# --------------------------------------------------------------------------- spec and API


def test_multi_mec_action_space_is_local_plus_servers_times_fractions_times_powers() -> None:
    spec = env_spec("mec", "analytic", devices=5, servers=3, offload_fractions=(0.5, 1.0),
                    tx_power_dbm=(10.0, 17.0, 23.0))
    assert spec.n_agents == 5 and spec.agent_ids == tuple(f"dev{i}" for i in range(5))
    assert spec.n_actions == 1 + 3 * 2 * 3
    assert spec.obs_size == 8 + 3 * 3
    default = env_spec("mec", "analytic")
    assert (default.n_agents, default.n_actions) == (50, 1 + 9 * 4 * 2)
    table = action_table(settings_of(spec))
    assert table.target[0] == LOCAL and table.alpha[0] == 0.0
    # action 1 + (k·F + f)·P + p: server k, fraction f, power p
    k, f, p = 2, 0, 1
    j = 1 + (k * 2 + f) * 3 + p
    assert (table.target[j], table.alpha[j]) == (2, 0.5)
    assert table.power_w[j] == pytest.approx(10 ** ((17.0 - 30) / 10))


def test_aiot_has_25_nodes_26_actions_and_5_features() -> None:
    spec = env_spec("mec", "analytic", preset="aiot")
    assert spec.n_agents == 25 and spec.agent_ids[0] == "node0"
    assert spec.n_actions == 25 + 1 and spec.obs_size == 5
    table = action_table(settings_of(spec))
    assert list(table.target[:25]) == list(range(25)) and table.target[25] == REJECT
    small = env_spec("mec", "analytic", preset="aiot", servers=7)
    assert (small.n_agents, small.n_actions, small.obs_size) == (7, 8, 5)
    full = env_spec("mec", "analytic", preset="aiot", servers=7, observation="full")
    assert full.obs_size == 5 + 2 * 7


@pytest.mark.parametrize("preset", PRESETS)
def test_shapes_of_every_output(preset: str) -> None:
    env = mec(3, preset=preset, devices=6, servers=4, episode_limit=7)
    spec = env.spec
    b, a = 3, spec.n_agents
    out = rollout(env, make_policy("random", spec), seed=1)
    t = spec.episode_limit
    assert out["obs"].shape == (t + 1, b, a, spec.obs_size)
    assert out["state"].shape == (t + 1, b, spec.state_size)
    assert out["avail"].shape == (t + 1, b, a, spec.n_actions) and out["avail"].dtype == bool
    assert out["rewards"].shape == (t, b, len(REWARD_COMPONENTS))
    assert out["kpis"].shape == (t, b, a, len(MEC_AGENT_KPI_NAMES))
    assert out["global"].shape == (t, b, len(MEC_GLOBAL_KPI_NAMES))
    assert spec.global_kpi_names == MEC_GLOBAL_KPI_NAMES
    assert spec.reward_components == REWARD_COMPONENTS
    for key in ("obs", "state", "rewards", "global", "kpis"):
        assert np.isfinite(out[key]).all(), key
    assert out["avail"].any(-1).all()  # every agent can always do something


@pytest.mark.parametrize("preset", PRESETS)
def test_episode_truncates_at_the_limit(preset: str) -> None:
    env = mec(2, preset=preset, devices=4, servers=3, episode_limit=5)
    step = env.reset(seed=0)
    policy = make_policy("greedy", env.spec)
    for t in range(5):
        step = env.step(policy.act(step))
        assert not step.terminated.any()
        assert step.truncated.all() == (t == 4) and step.truncated.any() == (t == 4)


@pytest.mark.parametrize("preset", PRESETS)
def test_rewards_lie_in_zero_to_their_weight(preset: str) -> None:
    weights = (0.5, 2.0, 0.0, 0.25, 3.0)
    kw = dict(preset=preset, devices=8, servers=3, episode_limit=40, variant="failures",
              mtbf_s=2.0, arrival_rate_hz=4.0)
    weighted = rollout(mec(3, reward_weights=weights, **kw),
                       make_policy("random", env_spec("mec", "analytic", **kw)), seed=5)
    equal = rollout(mec(3, reward_weights=(1.0,) * 5, **kw),
                    make_policy("random", env_spec("mec", "analytic", **kw)), seed=5)
    r, w = weighted["rewards"], np.asarray(weights, np.float32)
    assert (r >= 0).all() and (r <= w + 1e-6).all()
    assert (equal["rewards"] >= 0).all() and (equal["rewards"] <= 1 + 1e-6).all()
    assert (r[..., 2] == 0).all()  # weight 0: the component is off
    # the weights scale the components and change nothing else
    np.testing.assert_allclose(r, equal["rewards"] * w, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(weighted["obs"], equal["obs"])
    # the components do vary (not stuck at a bound)
    assert (equal["rewards"].std(axis=(0, 1))[[0, 3]] > 0).all()


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("policy", ["random", "greedy"])
def test_same_seed_same_rollout_other_seed_another(preset: str, policy: str) -> None:
    kw = dict(preset=preset, devices=8, servers=4, episode_limit=25, variant="failures",
              mtbf_s=3.0)
    env = mec(2, **kw)
    a = rollout(env, make_policy(policy, env.spec), seed=11)
    b = rollout(mec(2, **kw), make_policy(policy, env.spec), seed=11)
    for key in ("obs", "state", "avail", "rewards", "kpis"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # every global KPI but the wall-clock decision time
    np.testing.assert_array_equal(a["global"][..., NOT_WALL_CLOCK],
                                  b["global"][..., NOT_WALL_CLOCK])
    # the same env object reset again replays too
    again = rollout(env, make_policy(policy, env.spec), seed=11)
    np.testing.assert_array_equal(a["obs"], again["obs"])
    other = rollout(mec(2, **kw), make_policy(policy, env.spec), seed=12)
    assert not np.array_equal(a["obs"], other["obs"])
    assert not np.array_equal(a["global"][..., NOT_WALL_CLOCK],
                              other["global"][..., NOT_WALL_CLOCK])
    # the copies of one batch differ from each other
    assert not np.array_equal(a["obs"][:, 0], a["obs"][:, 1])


# --------------------------------------------------------------------------- action masks


def _check_masks(env, step) -> tuple[int, int]:
    """Offloads to a down server are masked, agents without a task have only action 0;
    returns how many (pending agent, down server) and idle agents were checked."""
    view, avail = step.info["mec"], step.avail_actions
    table = env.table
    multi = env.multi
    checked_down = idle = 0
    b, a = view["has"].shape
    for bi, ai in itertools.product(range(b), range(a)):
        row = avail[bi, ai]
        if not view["has"][bi, ai]:
            assert row[0] and not row[1:].any(), (bi, ai, row)
            idle += 1
            continue
        for k in range(env.s.servers):
            to_k = table.target == k
            if not view["up"][bi, k]:
                assert not row[to_k].any(), (bi, ai, k)
                checked_down += 1
            elif multi and not view["local_full"][bi, ai]:
                assert row[to_k].all(), (bi, ai, k)  # nothing else blocks an up server
            elif not multi:
                assert row[to_k].all(), (bi, ai, k)
        if multi:
            assert row[0]  # local is always possible
        else:
            assert row[table.target == REJECT].all()
    return checked_down, idle


@pytest.mark.parametrize("preset", PRESETS)
def test_failures_variant_masks_offloads_to_down_servers(preset: str) -> None:
    env = mec(4, preset=preset, devices=10, servers=4, variant="failures", mtbf_s=0.5,
              mttr_s=2.0, arrival_rate_hz=5.0, episode_limit=30)
    policy = make_policy("random", env.spec)
    step = env.reset(seed=2)
    policy.reset(4, seed=2)
    down = idle = 0
    for _ in range(30):
        d, i = _check_masks(env, step)
        down, idle = down + d, idle + i
        step = env.step(policy.act(step))
    assert down > 20 and idle > 20  # both cases were actually met


@pytest.mark.parametrize("preset", PRESETS)
def test_a_server_forced_down_is_masked_and_idle_agents_only_have_action_0(preset: str) -> None:
    env = mec(2, preset=preset, devices=6, servers=3, mttr_s=NEVER, arrival_rate_hz=6.0,
              episode_limit=10)
    step = env.reset(seed=0)
    force_down(env, 1)
    table = env.table
    for _ in range(6):
        has = step.info["mec"]["has"]
        # pending agents run locally (multi-mec) or reject (aiot): always allowed
        act = np.where(has, 0 if env.multi else table.n - 1, 0)
        step = env.step(act)
        assert not step.info["mec"]["up"][:, 1].any()
        pending = step.info["mec"]["has"]
        assert pending.any()
        assert not step.avail_actions[pending][:, table.target == 1].any()
        down, _ = _check_masks(env, step)
        assert down == pending.sum()  # one down server per pending agent
    with pytest.raises(ValueError, match="unavailable action"):
        bad = np.zeros((2, env.spec.n_agents), np.int64)
        has = step.info["mec"]["has"]
        bi, ai = np.argwhere(has)[0]
        bad[bi, ai] = int(np.flatnonzero(table.target == 1)[0])
        env.step(bad)


# --------------------------------------------------------------------------- age of information


@pytest.mark.parametrize("preset", PRESETS)
def test_aoi_grows_by_the_step_without_any_task(preset: str) -> None:
    env = mec(2, preset=preset, devices=5, servers=3, arrival_rate_hz=0.0, episode_limit=30)
    out = rollout(env, make_policy("greedy", env.spec), seed=0)
    dt = env.spec.step_interval_s
    aoi = out["global"][..., G["aoi_mean_s"]].astype(np.float64)
    np.testing.assert_allclose(aoi, dt * np.arange(1, 31)[:, None] * np.ones((1, 2)), rtol=1e-6)
    assert (out["global"][..., G["arrived"]] == 0).all()
    assert (out["global"][..., G["completed"]] == 0).all()


@pytest.mark.parametrize("preset", PRESETS)
def test_aoi_grows_by_the_step_exactly_when_no_update_completes(preset: str) -> None:
    env = mec(3, preset=preset, devices=8, servers=3, episode_limit=60)
    out = rollout(env, make_policy("greedy", env.spec), seed=4)
    dt = env.spec.step_interval_s
    aoi = out["global"][..., G["aoi_mean_s"]].astype(np.float64)
    growth = np.diff(np.concatenate([np.zeros((1, 3)), aoi]), axis=0)
    updates = out["global"][..., G["updates"]]
    completed = out["global"][..., G["completed"]]
    quiet = completed == 0
    assert quiet.sum() > 10 and (updates > 0).sum() > 10
    np.testing.assert_allclose(growth[quiet], dt, atol=1e-4)
    np.testing.assert_allclose(growth[updates == 0], dt, atol=1e-4)
    assert (growth[updates > 0] < dt - 1e-6).all()  # a fresher update lowers the age


def test_aoi_grows_while_heavy_local_tasks_run() -> None:
    # 10 s of local work per task: nothing completes for the first 50 steps
    env = mec(2, devices=4, servers=2, data_bits=(1e5, 1e5), cycles_per_bit=(1e5, 1e5),
              episode_limit=50)
    out = rollout(env, make_policy("local", env.spec), seed=0)
    assert out["global"][..., G["arrived"]].sum() > 10
    assert (out["global"][..., G["completed"]] == 0).all()
    aoi = out["global"][..., G["aoi_mean_s"]].astype(np.float64)
    np.testing.assert_allclose(np.diff(aoi, axis=0), 0.1, atol=1e-4)


# --------------------------------------------------------------------------- failed servers


def test_a_server_forced_down_completes_nothing_until_repaired() -> None:
    # 0.1 Mbit at 1e5 cycles/bit: 0.4 s at a 25 GHz server, 10 s on the device (never here)
    env = mec(2, devices=6, servers=2, mttr_s=NEVER, arrival_rate_hz=20.0, data_bits=(1e5, 1e5),
              cycles_per_bit=(1e5, 1e5), deadline_s=(50.0, 60.0), episode_limit=100)
    table = env.table
    step = env.reset(seed=0)
    has = step.info["mec"]["has"]
    to = [action_index(table, k) for k in (0, 1)]
    offload = np.where(has, np.where(np.arange(6) % 2 == 0, to[0], to[1]), 0)
    step = env.step(offload)
    occ = env.queues.occupancy()
    assert (occ > 0).all(), occ  # both servers hold tasks in both copies
    assert step.info["global_kpis"][:, G["completed"]].sum() == 0
    force_down(env, 0)
    held = occ[:, 0].copy()
    work = env.queues.work[:, 0].copy()
    done = 0.0
    for _ in range(25):  # 2.5 s: server 1 (up) finishes its share
        before = env.queues.occupancy()
        step = env.step(np.zeros((2, 6), np.int64))  # everything else runs locally
        after = env.queues.occupancy()
        g = step.info["global_kpis"]
        # every completion is one of server 1's tasks; server 0 keeps its tasks and work
        np.testing.assert_array_equal(g[:, G["completed"]], before[:, 1] - after[:, 1])
        np.testing.assert_array_equal(after[:, 0], held)
        np.testing.assert_array_equal(env.queues.work[:, 0], work)
        assert not step.info["mec"]["up"][:, 0].any()
        done += g[:, G["completed"]].sum()
    assert done == occ[:, 1].sum()  # server 1 emptied
    assert (env.queues.occupancy()[:, 1] == 0).all()
    force_down(env, 0, down=False)  # repaired
    finished = 0.0
    for _ in range(60):  # one far device's upload ends at 7 s
        step = env.step(np.zeros((2, 6), np.int64))
        finished += step.info["global_kpis"][:, G["completed"]].sum()
    assert finished == held.sum()
    assert (env.queues.occupancy() == 0).all()


def test_failures_variant_loses_the_tasks_of_a_server_that_fails() -> None:
    env = mec(4, devices=10, servers=3, variant="failures", mtbf_s=1.0, mttr_s=NEVER,
              on_failure="lose", episode_limit=40, arrival_rate_hz=4.0)
    policy = make_policy("least-loaded", env.spec)
    step = env.reset(seed=1)
    lost_some = False
    for _ in range(40):
        up_before = env.queues.up.copy()
        occ_before = env.queues.occupancy()
        step = env.step(policy.act(step))
        went_down = up_before & ~env.queues.up
        # a server that failed this step holds nothing afterwards
        assert (env.queues.occupancy()[went_down] == 0).all()
        if (went_down & (occ_before > 0)).any():
            lost_some = lost_some or step.info["global_kpis"][:, G["dropped"]].sum() > 0
        # a down server serves nothing
        assert (env.queues.occupancy()[~env.queues.up & ~went_down] == 0).all()
    assert lost_some


# --------------------------------------------------------------------------- sanity of the rules


def evaluate(policy: str, seed: int, episodes: int = 8, **kw) -> dict:
    def make(n):
        return make_env("mec", "analytic", n, **kw)

    pol = make_policy(policy, env_spec("mec", "analytic", **kw))
    result = evaluate_policy(make, pol, episodes, seed, "analytic", batch_size=episodes)
    return result.summary()["kpis"]


@pytest.mark.parametrize("policy", ["nearest", "least-loaded"])
def test_more_servers_never_lower_completion(policy: str) -> None:
    for seed in (0, 1):
        completion = [evaluate(policy, seed, devices=30, servers=k, episode_limit=50)
                      ["completion_pct"] for k in (3, 9, 18)]
        for fewer, more in zip(completion, completion[1:]):
            assert more >= fewer - 1.0, (policy, seed, completion)


HEAVY = dict(devices=20, servers=4, episode_limit=60, data_bits=(0.2e6, 0.5e6),
             cycles_per_bit=(1e4, 1e4), deadline_s=(1.0, 2.0))


def test_local_only_misses_heavy_tasks_deadlines_greedy_meets_them() -> None:
    # c / f_l = 2..5 s on the device against 1..2 s deadlines; 0.1..0.2 s on a server
    for seed in (0, 1):
        local = evaluate("local", seed, **HEAVY)
        greedy = evaluate("greedy", seed, **HEAVY)
        assert local["deadline_pct"] <= 1.0
        assert local["response_time_s"] > 2.0
        assert greedy["deadline_pct"] >= 90.0
        assert greedy["response_time_s"] < 1.0


def test_failures_lower_completion() -> None:
    kw = dict(devices=20, servers=4, episode_limit=100, mtbf_s=2.0, mttr_s=5.0)
    for seed in (0, 1):
        stable = evaluate("greedy", seed, variant="stable", **kw)
        failing = evaluate("greedy", seed, variant="failures", **kw)
        assert failing["completion_pct"] <= stable["completion_pct"] - 10.0
        assert failing["dropped_pct"] > stable["dropped_pct"]


def test_load_peaks_raise_response_time() -> None:
    kw = dict(devices=20, servers=4, episode_limit=100)
    for seed in (0, 1):
        stable = evaluate("greedy", seed, variant="stable", **kw)
        peaks = evaluate("greedy", seed, variant="load-peaks", **kw)
        assert peaks["response_time_s"] >= 1.3 * stable["response_time_s"]
        assert peaks["arrived"] > 1.2 * stable["arrived"]


# --------------------------------------------------------------------------- conservation


def in_system(env) -> np.ndarray:
    """``[B]`` tasks not yet resolved: waiting for a decision, at a device's CPU, or at a
    server (a partial task holds a local and a server slot: counted once, by the local)."""
    q = env.queues
    whole = q.valid & (q.attrs["link"] < 0)
    return env.buffer.valid.sum((1, 2)) + env.local.valid.sum((1, 2)) + whole.sum((1, 2))


CONSERVATION = [
    (preset, policy, on_failure, queue, drop_late)
    for preset, policy in (("multi-mec", "random"), ("multi-mec", "greedy"), ("aiot", "random"),
                           ("aiot", "least-loaded"))
    for on_failure, queue, drop_late in itertools.product(("lose", "requeue"), ("fifo", "ps"),
                                                          (False, True))
]


@pytest.mark.parametrize("preset,policy,on_failure,queue,drop_late", CONSERVATION)
def test_every_task_is_resolved_once_or_still_in_the_system(preset, policy, on_failure, queue,
                                                            drop_late) -> None:
    env = mec(4, preset=preset, variant="failures", mtbf_s=1.0, mttr_s=0.5, devices=8,
              servers=3, agent_buffer=1, server_slots=2, local_slots=2, arrival_rate_hz=8.0,
              episode_limit=60, on_failure=on_failure, queue=queue, drop_late=drop_late)
    pol = make_policy(policy, env.spec)
    step = env.reset(seed=3)
    pol.reset(4, seed=3)
    assert env.local.valid.sum() == 0 and env.queues.valid.sum() == 0
    start = in_system(env).astype(np.float64)  # the tasks of the step before t = 0
    arrived = np.zeros(4)
    resolved = np.zeros(4)
    totals = {k: 0.0 for k in ("rejected", "dropped", "completed")}
    partial = 0
    for t in range(60):
        step = env.step(pol.act(step))
        g = step.info["global_kpis"].astype(np.float64)
        arrived += g[:, G["arrived"]]
        resolved += g[:, G["resolved"]]
        np.testing.assert_array_equal(
            g[:, G["resolved"]], g[:, G["completed"]] + g[:, G["rejected"]] + g[:, G["dropped"]])
        for k in totals:
            totals[k] += g[:, G[k]].sum()
        partial += int((env.queues.valid & (env.queues.attrs["link"] >= 0)).sum())
        np.testing.assert_array_equal(start + arrived, resolved + in_system(env),
                                      err_msg=f"step {t}")
    # the paths were exercised
    assert totals["rejected"] > 0 and totals["completed"] > 0
    if on_failure == "lose" or drop_late:
        assert totals["dropped"] > 0
    if preset == "multi-mec" and policy == "random":
        assert partial > 0


def test_partial_offload_holds_one_local_and_one_linked_server_slot() -> None:
    env = mec(2, devices=4, servers=2, arrival_rate_hz=20.0, data_bits=(1e5, 1e5),
              cycles_per_bit=(1e5, 1e5), deadline_s=(50.0, 60.0), episode_limit=20)
    step = env.reset(seed=0)
    has = step.info["mec"]["has"]
    half = action_index(env.table, 1, alpha=0.5)
    step = env.step(np.where(has, half, 0))
    q = env.queues
    assert (q.valid & (q.attrs["link"] < 0)).sum() == 0
    b, k, s = np.nonzero(q.valid)
    assert len(b) == has.sum() and (k == 1).all()
    dev = q.attrs["origin"][b, k, s].astype(int)
    link = q.attrs["link"][b, k, s].astype(int)
    assert env.local.valid[b, dev, link].all()
    assert env.local.valid.sum() == has.sum()
    assert (env.local.f["remote_finish"][b, dev, link] == np.inf).all()  # waiting for its part
    # half the work at the server
    np.testing.assert_allclose(q.attrs["cycles"][b, k, s], 0.5 * 1e10)
    assert (in_system(env) == env.local.valid.sum((1, 2)) + env.buffer.valid.sum((1, 2))).all()


# --------------------------------------------------------------------------- the rule baselines


RULE_CASES = [(name, preset) for name, cls in RULES.items() for preset in cls.presets]


@pytest.mark.parametrize("name,preset", RULE_CASES)
@pytest.mark.parametrize("variant", ["stable", "failures"])
def test_every_rule_runs_and_picks_available_actions(name: str, preset: str, variant: str) -> None:
    # (the aiot case is `xr-marl evaluate --env mec --preset aiot --variant failures --mtbf 1
    # --mttr 1 --servers 3 --devices 20 --arrival-rate 4 --episodes 4`)
    env = mec(4, preset=preset, variant=variant, mtbf_s=1.0, mttr_s=1.0, devices=20, servers=3,
              arrival_rate_hz=4.0, episode_limit=60)
    policy = make_policy(name, env.spec)
    assert policy.name == name
    step = env.reset(seed=0)
    policy.reset(4, seed=0)
    acted = 0
    for _ in range(60):
        act = policy.act(step)
        assert act.shape == (4, env.spec.n_agents) and act.dtype == np.int64
        ok = np.take_along_axis(step.avail_actions, act[..., None], -1)[..., 0]
        assert ok.all(), (name, preset, np.argwhere(~ok)[:3], act[~ok][:3])
        has = step.info["mec"]["has"]
        assert (act[~has] == 0).all()  # no task: the no-op
        acted += int((act[has] != 0).sum())
        step = env.step(act)
    if name != "local" or preset == "aiot":
        assert acted > 0  # the rule did decide something beyond action 0


@pytest.mark.parametrize("name", [n for n, cls in RULES.items() if "aiot" in cls.presets])
def test_aiot_rules_pick_available_actions_when_no_node_can_take_a_task(name: str) -> None:
    # every task needs more memory than any node has; node 0 is down: the only available
    # action of a node holding a task is rejecting it (or forwarding, which is refused)
    env = mec(2, preset="aiot", devices=6, servers=2, mttr_s=NEVER, task_memory_gb=(50.0, 60.0),
              server_memory_gb=(32.0, 32.0), arrival_rate_hz=10.0, episode_limit=10)
    policy = make_policy(name, env.spec)
    step = env.reset(seed=0)
    policy.reset(2, seed=0)
    force_down(env, 0)
    reject = env.table.n - 1
    step = env.step(np.where(step.info["mec"]["has"], reject, 0))
    for _ in range(5):
        has = step.info["mec"]["has"]
        assert has[:, 1].any()  # node 1 (up) holds tasks its devices uploaded
        assert not step.avail_actions[has][:, 0].any()  # node 0 is down
        act = policy.act(step)
        ok = np.take_along_axis(step.avail_actions, act[..., None], -1)[..., 0]
        assert ok.all(), (name, act, has)
        step = env.step(act)


def test_balanced_is_multi_mec_only() -> None:
    with pytest.raises(ValueError, match="balanced"):
        make_policy("balanced", env_spec("mec", "analytic", preset="aiot"))
    assert make_policy("balanced", env_spec("mec", "analytic")).name == "balanced"


def test_balanced_offloads_partly() -> None:
    env = mec(2, devices=10, servers=3, episode_limit=30)
    policy = make_policy("balanced", env.spec)
    step = env.reset(seed=0)
    fractions, completed = [], 0.0
    for _ in range(30):
        act = policy.act(step)
        fractions.extend(env.table.alpha[act[step.info["mec"]["has"]]].tolist())
        step = env.step(act)
        completed += step.info["global_kpis"][:, G["completed"]].sum()
    assert any(0 < f < 1 for f in fractions)  # some decisions split the task
    assert completed > 0


# --------------------------------------------------------------------------- event-weighted KPIs


@pytest.mark.parametrize("preset", PRESETS)
def test_ratio_kpis_are_weighted_by_their_events(preset: str) -> None:
    kw = dict(preset=preset, devices=6, servers=3, episode_limit=40, variant="failures",
              mtbf_s=2.0, arrival_rate_hz=2.0)
    episodes, seed = 3, 7
    result = evaluate_policy(lambda n: make_env("mec", "analytic", n, **kw),
                             make_policy("greedy", env_spec("mec", "analytic", **kw)), episodes,
                             seed, "analytic", batch_size=episodes)
    env = mec(episodes, **kw)
    g = rollout(env, make_policy("greedy", env.spec), seed=seed)["global"].astype(np.float64)
    resolved, completed = g[..., G["resolved"]].sum(0), g[..., G["completed"]].sum(0)
    assert (resolved > 0).all()
    expected = 100.0 * completed / resolved  # [E]
    np.testing.assert_allclose(result.episode_global["completion_pct"], expected, rtol=1e-5)
    summary = result.summary()["kpis"]
    assert summary["completion_pct"] == pytest.approx(expected.mean(), rel=1e-5)
    for name, per in (("rejected_pct", "rejected"), ("dropped_pct", "dropped"),
                      ("deadline_pct", "on_time")):
        want = 100.0 * g[..., G[per]].sum(0) / resolved
        np.testing.assert_allclose(result.episode_global[name], want, rtol=1e-4, atol=1e-4)
    response = (g[..., G["response_time_s"]] * g[..., G["completed"]]).sum(0) / completed
    np.testing.assert_allclose(result.episode_global["response_time_s"], response, rtol=1e-5)
    # a per-step mean would differ (steps that resolve nothing report 0 %)
    plain = g[..., G["completion_pct"]].mean(0)
    assert np.abs(plain - expected).max() > 1.0
    # the event counts themselves are per-step means
    np.testing.assert_allclose(result.episode_global["arrived"], g[..., G["arrived"]].mean(0),
                               rtol=1e-6)


@pytest.mark.parametrize("preset", ["multi-mec", "aiot"])
def test_every_learner_trains_on_mec_unchanged(preset: str) -> None:
    """The 12 value learners train on both presets through the same Trainer as XR (masked,
    unordered actions, five components, global KPIs), with finite losses, and their greedy
    actions respect the masks."""
    from xr_codec_marl.learners.config import LearnerConfig
    from xr_codec_marl.learners.registry import ALGOS, get_algo
    from xr_codec_marl.learners.trainer import Trainer

    assert len(ALGOS) == 12
    for name in ALGOS:
        env = make_env("mec", "analytic", 2, preset=preset, devices=4, servers=3, episode_limit=5)
        cfg = LearnerConfig(batch_size=2, learning_starts=2, num_envs=2, tensorboard=False,
                            rnn_hidden=8, head_hidden=8, mixer_embed=8, hypernet_hidden=8,
                            qtran_hidden=8)
        trainer = Trainer(env, get_algo(name), cfg, seed=0)
        trainer.train(30, progress=False)
        assert trainer.learner.train_steps > 0, name
        assert np.isfinite(trainer.last_stats["loss"]), name
        step = env.reset(3)
        trainer.controller.reset(env.num_envs)
        q = trainer.controller.q_values(step.obs, None).detach().numpy().sum(-2)  # [B, N, A]
        greedy = np.where(step.avail_actions, q, -np.inf).argmax(-1)
        assert np.isfinite(q).all(), name
        env.step(greedy)  # the masked greedy joint action is valid


def test_cells_radio_shares_each_cell_among_its_uploads_whatever_their_server():
    """``radio="cells"`` (the ns-3 network): devices sit around their base station, and every
    upload in progress in a cell shares it, to whichever server it goes."""
    from xr_codec_marl.scenarios.mec.radio import Radio
    from xr_codec_marl.scenarios.mec.settings import preset

    s = preset("multi-mec", devices=4, servers=3, radio="cells", cells=2, isd_m=1000.0,
               cell_radius_m=200.0, min_distance_m=20.0, shadowing_db=0.0)
    radio = Radio(s, 1, 4, 3, np.random.default_rng(0))
    centre = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 0.0], [1000.0, 0.0]])
    d = np.linalg.norm(radio.pos[0] - centre, axis=-1)
    assert ((d >= 20.0) & (d <= 200.0)).all()
    g = radio.gains()
    np.testing.assert_array_equal(g[0], np.repeat(g[0, :, :1], 3, axis=1))  # one cell for all
    alone = radio.rates(np.array([[0, -1, -1, -1]]), 0.2, g)
    shared = radio.rates(np.array([[0, -1, 2, -1]]), 0.2, g)  # devices 0 and 2: same cell
    other_cell = radio.rates(np.array([[0, 1, -1, -1]]), 0.2, g)  # device 1: the other cell
    busy = radio.rates(np.array([[0, -1, -1, -1]]), 0.2, g, active=np.array([[0, 0, 1, 0]], bool))
    from xr_codec_marl.scenarios.mec import models

    half = models.uplink_rate(s.bandwidth_hz / 2, 0.2, g[0, 0, 0], s.noise_figure_db,
                              radio.interference_w)
    assert shared[0, 0] == pytest.approx(half) and shared[0, 0] < alone[0, 0]
    assert busy[0, 0] == pytest.approx(shared[0, 0])
    assert other_cell[0, 0] == pytest.approx(alone[0, 0])
    for _ in range(200):  # walking stays in the square around the cell
        radio.move(1.0)
    assert (np.abs(radio.pos[0] - centre) <= 200.0 + 1e-9).all()


def test_fitted_rate_efficiency_and_cap_lower_the_rate():
    from xr_codec_marl.scenarios.mec.radio import Radio
    from xr_codec_marl.scenarios.mec.settings import preset

    rates = {}
    for eff, cap in ((1.0, 0.0), (0.5, 0.0), (1.0, 0.5)):
        s = preset("multi-mec", devices=1, servers=1, radio="cells", rate_efficiency=eff,
                   max_se_bps_hz=cap)
        radio = Radio(s, 1, 1, 1, np.random.default_rng(1))
        rates[(eff, cap)] = float(radio.rates(np.array([[0]]), 0.2)[0, 0])
    assert rates[(0.5, 0.0)] == pytest.approx(0.5 * rates[(1.0, 0.0)])
    assert rates[(1.0, 0.5)] == pytest.approx(min(rates[(1.0, 0.0)], 0.5 * 20e6))
