"""A scenario defined only here runs through every command with no edit to generic code.

The toy wraps the climbing matrix game (optimum 11 at joint action (0, 0), the "safe" joint
action (2, 2) pays 5) with settings of its own (``payoff_scale`` multiplies payoff and
rewards), its own sweep axis (``scale``, flag ``--scales``), KPI declarations of its own (one
agent-scope KPI reported under another key, two global ones), reward labels, two rule
baselines (``oracle``, ``safe`` = the reference) and unordered actions (so explanations have
no RDFX inc/dec and use the strongest-alternative comparison). It is registered with the
real registry before ``cli.main`` builds its parsers, and unregistered afterwards; a last test
loads it as a ``$XRMARL_PLUGINS`` module in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from xr_codec_marl.cli import main
from xr_codec_marl.core.api import EnvSpec, Observation, StepResult
from xr_codec_marl.core.kpis import KpiSpec, RewardSpec
from xr_codec_marl.core.registry import register_scenario, unregister_scenario
from xr_codec_marl.core.scenario import Scenario, SweepAxis
from xr_codec_marl.scenarios.matrix.game import MatrixGameEnv

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FAST = ["--set", "epsilon_anneal_steps=100", "--set", "batch_size=8", "--set",
        "tensorboard=false"]


@dataclass(frozen=True)
class ToySettings:
    payoff_scale: float = 1.0
    components: int = 2
    episode_limit: int = 4

    def validate(self) -> "ToySettings":
        if not self.payoff_scale > 0:
            raise ValueError(f"payoff_scale must be > 0, got {self.payoff_scale}")
        return self


TOY_KPIS = (
    KpiSpec("hit", direction="higher", headline=True, label="Agent on the optimum",
            report_as="agent_hit"),
    KpiSpec("payoff", "pts", "higher", scope="global", headline=True, label="Team payoff"),
    KpiSpec("optimal", direction="higher", scope="global", label="Optimal joint action"),
)
TOY_REWARDS = (RewardSpec("r0", "first share"), RewardSpec("r1", "second share"))


class ToyEnv:
    """The climbing game with a per-agent KPI (on the optimum?) and scaled payoffs."""

    def __init__(self, settings: ToySettings, num_envs: int) -> None:
        self.inner = MatrixGameEnv("climbing", num_envs, settings.components, settings.episode_limit)
        self.scale = settings.payoff_scale
        self.num_envs = num_envs
        self.spec = replace(
            self.inner.spec, name="toy", kpi_names=("hit",), kpis=TOY_KPIS, rewards=TOY_REWARDS,
            extra={"scenario": "toy", "settings": {"payoff_scale": settings.payoff_scale,
                                                   "components": settings.components,
                                                   "episode_limit": settings.episode_limit}})

    def reset(self, seed: int | None = None) -> Observation:
        obs = self.inner.reset(seed)
        obs.info = {"kpis": np.zeros((self.num_envs, 2, 1), np.float32),
                    "global_kpis": np.zeros((self.num_envs, 2), np.float32)}
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        res = self.inner.step(actions)
        acts = np.asarray(actions)
        res.info["kpis"] = (acts == 0).astype(np.float32)[..., None]
        res.info["global_kpis"] = res.info["global_kpis"] * np.float32([self.scale, 1.0])
        res.rewards = res.rewards * np.float32(self.scale)
        return res

    def close(self) -> None:
        pass


class Constant:
    """Every agent always plays ``action``."""

    def __init__(self, spec: EnvSpec, action: int, name: str) -> None:
        self.spec, self.action, self.name = spec, action, name

    def reset(self, num_envs: int, seed: int | None = None) -> None:
        pass

    def act(self, step: Observation, explore: bool = False) -> np.ndarray:
        return np.full(step.avail_actions.shape[:2], self.action, np.int64)


def _scale(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"scale must be > 0, got {text}")
    return value


class ToyScenario(Scenario):
    name = "toy"
    description = "climbing game with scaled payoffs (a test plug-in)"
    settings_type = ToySettings
    kpis = TOY_KPIS
    rewards = TOY_REWARDS
    sweep_axes = (SweepAxis("scale", "payoff_scale", _scale, default=(1.0, 2.0),
                            label="Payoff scale", flag="--scales", prefix="scale"),)
    reference_policy = "safe"
    record_settings = ("payoff_scale",)
    agent_colours = {"agent0": "#112233"}

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--scale", type=float, default=1.0, help="payoff scale")

    def kwargs_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"payoff_scale": args.scale}

    def env_spec(self, settings: ToySettings) -> EnvSpec:
        return ToyEnv(settings, 1).spec

    def make_analytic(self, settings: ToySettings, num_envs: int, seed: int | None,
                      **options: Any) -> ToyEnv:
        return ToyEnv(settings, num_envs)

    def policies(self) -> dict[str, Any]:
        return {"oracle": lambda spec, **kw: Constant(spec, 0, "oracle"),
                "safe": lambda spec, **kw: Constant(spec, 2, "safe")}


TOY = ToyScenario()


@pytest.fixture(scope="module")
def toy():
    register_scenario(TOY)
    yield TOY
    unregister_scenario(TOY.name)


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy-run") / "mh-dvdn"
    rc = main(["train", "--env", "toy", "--algo", "mh-dvdn", "--steps", "300", "--seed", "1",
               "--out", str(out), "--no-progress", *FAST])
    assert rc == 0
    return out


def test_evaluate_reports_the_toy_kpis(toy, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["evaluate", "--env", "toy", "--policy", "oracle", "--scale", "2", "--episodes", "3",
               "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("policy", "env", "backend", "episodes", "seed", "settings", "kpis", "per_agent",
                "ci95", "rewards"):
        assert key in out, key
    assert out["env"] == "toy" and out["policy"] == "oracle" and out["payoff_scale"] == 2.0
    assert list(out["kpis"]) == ["agent_hit", "payoff", "optimal"]  # headline first, by key
    assert out["kpis"]["payoff"] == pytest.approx(22.0) and out["kpis"]["optimal"] == 1.0
    assert out["kpis"]["agent_hit"] == 1.0
    assert set(out["per_agent"]) == {"agent0", "agent1"}
    assert out["per_agent"]["agent0"] == {"agent_hit": 1.0}
    assert sum(out["rewards"].values()) == pytest.approx(22.0)  # components sum to the payoff
    assert main(["evaluate", "--env", "toy", "--episodes", "2", "--json"]) == 0  # the reference
    ref = json.loads(capsys.readouterr().out)
    assert ref["policy"] == "safe" and ref["kpis"]["payoff"] == pytest.approx(5.0)


def test_default_sweep_policies_fit_the_toys_actions(toy) -> None:
    from xr_codec_marl.experiments.sweep import default_policies

    # the reference first, then its own rules and the generic ones its unordered actions allow
    assert default_policies("toy") == ("safe", "oracle", "random")


def test_sweep_over_the_toys_own_axis_with_a_learner_and_its_report(
        toy, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    rc = main(["sweep", "--env", "toy", "--axis", "scale=1,3", "--policies", "safe,oracle,mh-dvdn",
               "--seeds", "1", "--episodes", "3", "--train-steps", "300", *FAST,
               "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Gain vs SAFE" in printed and "agent_hit ↑ %" in printed and "payoff ↑ %" in printed
    rows = pd.read_csv(out / "results.csv")
    # one row set per axis value: 3 policies x 3 episodes x 2 agents
    assert sorted(rows["payoff_scale"].unique()) == [1.0, 3.0]
    assert rows.groupby("payoff_scale").size().to_dict() == {1.0: 18, 3.0: 18}
    for col in ("policy", "kind", "seed", "episode", "agent", "backend", "code_version",
                "agent_hit", "payoff", "optimal", "reward_r0", "reward_r1", "windows"):
        assert col in rows.columns, col
    assert set(rows["agent"]) == {"agent0", "agent1"}
    oracle = rows[rows.policy == "oracle"]
    np.testing.assert_allclose(oracle["payoff"], 11.0 * oracle["payoff_scale"])
    assert (oracle["agent_hit"] == 1.0).all() and (rows[rows.policy == "safe"]["agent_hit"] == 0).all()
    assert set(rows.loc[rows.policy == "mh-dvdn", "kind"]) == {"learner"}
    assert (out / "cells" / "scale3" / "safe" / "seed0.csv").is_file()
    assert (out / "runs" / "scale1" / "mh-dvdn" / "seed0" / "checkpoint.pt").is_file()
    # the comparison, grouped by the toy's axis (plus the pooled group), KPIs by declaration
    cmp = pd.read_csv(out / "comparison.csv")
    assert set(cmp["payoff_scale"].astype(str)) == {"1.0", "3.0", "all"}
    # the headline KPIs, and the team reward (the objective) beside them
    assert set(cmp["kpi"]) == {"agent_hit", "payoff", "team_reward"}
    pooled = cmp[(cmp.payoff_scale == "all") & (cmp.policy == "oracle")].set_index("kpi")
    assert pooled.loc["payoff", "gain_pct"] == pytest.approx(120.0)  # 11 vs 5
    assert pooled.loc["payoff", "better"]
    html = (out / "report.html").read_text()
    for text in ("Gain vs SAFE", "Team payoff (pts)", "Agent on the optimum", "all scales",
                 "Scale 3", "Global KPI means", "Per-agent KPI means", "Learning curves"):
        assert text in html, text
    md = (out / "table4.md").read_text()
    assert "## Scale 1" in md and "## all scales" in md
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["config"]["axes"] == {"scale": [1.0, 3.0]} and sweep["config"]["env"] == "toy"


def test_the_axis_flag_and_bad_axis_values(toy, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "flag"
    assert main(["sweep", "--env", "toy", "--scales", "2", "--policies", "oracle", "--seeds", "1",
                 "--episodes", "2", "--out", str(out)]) == 0
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["payoff_scale"]) == {2.0} and (rows["payoff"] == 22.0).all()
    assert (out / "cells" / "scale2" / "oracle" / "seed0.csv").is_file()
    capsys.readouterr()
    assert main(["sweep", "--env", "toy", "--scales", "0", "--out", str(tmp_path / "x")]) == 2
    assert "scale must be > 0" in capsys.readouterr().err
    assert main(["sweep", "--env", "toy", "--axis", "speed=1", "--out", str(tmp_path / "x")]) == 2
    assert "no sweep axis 'speed'" in capsys.readouterr().err
    assert main(["sweep", "--env", "toy", "--scales", "1", "--axis", "scale=2",
                 "--out", str(tmp_path / "x")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_explain_the_trained_toy_learner_and_its_report(
        toy, trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "explain"
    rc = main(["explain", "--env", "toy", "--checkpoint", str(trained),
               "--checkpoint", f"{trained}@3", "--axis", "scale=1,3", "--episodes", "1",
               "--num-envs", "2", "--out", str(out), "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    table = pd.read_csv(out / "explanations.csv")
    assert set(table.agent) == {"agent0", "agent1"} and set(table.component) == {"r0", "r1"}
    assert sorted(table.payoff_scale.unique()) == [1.0, 3.0]
    # scale 1: one learner; scale 3: the same checkpoint again, bound -> "#2"
    assert sorted(table.groupby("payoff_scale").algorithm.unique().map(sorted).sum()) == [
        "mh-dvdn", "mh-dvdn", "mh-dvdn#2"]
    assert (table.reference == "safe").all() and (table.reference_action == 2).all()
    # 3 learner-points x 1 episode x 2 envs x 4 windows x 2 agents x 2 components
    assert len(table) == 3 * 2 * 4 * 2 * 2
    # unordered actions: no RDFX inc/dec, but the strongest-alternative comparison
    assert table[["inc_action", "rdfx_inc", "rdfx_dec", "msx_plus_inc_size"]].isna().all().all()
    assert table["alt_action"].notna().all() and (table.alt_action != table.chosen_action).all()
    assert set(result["figures"]) >= {"fig07_q_chosen", "fig08b_rdx_alt", "fig10b_msx_plus_alt",
                                      "fig14_kpis"}
    assert "fig08_rdfx_inc" not in result["figures"]
    summary = result["summary"]
    assert summary["unordered_agents"] == ["agent0", "agent1"]
    assert summary["settings"] == {"payoff_scale": [1.0, 3.0]}
    assert summary["msx_plus_only"]["inc"] == {} and set(summary["msx_plus_only"]["alt"]) == {"r0", "r1"}
    assert any("unordered action space" in w for w in result["warnings"])
    kpis = pd.read_csv(out / "kpis.csv")
    assert {"agent_hit", "payoff", "optimal", "payoff_scale"} <= set(kpis.columns)
    assert set(kpis.policy) == {"safe", "mh-dvdn", "mh-dvdn#2"}
    assert (kpis.loc[kpis.policy == "safe", "payoff"] == 5.0 * kpis.loc[kpis.policy == "safe",
                                                                        "payoff_scale"]).all()
    html = (out / "report.html").read_text()
    for text in ("Reference policy <b>SAFE</b>", "Team payoff (pts)", "unordered action space",
                 "Scale 1, agent0: dominant component", "MSX+ vs its strongest alternative"):
        assert text in html, text


def test_a_plugin_module_named_in_the_environment(tmp_path: Path) -> None:
    """``$XRMARL_PLUGINS`` modules are imported before the parsers are built."""
    (tmp_path / "toy_plugin.py").write_text(
        "from test_scenario_plugin import TOY\n"
        "from xr_codec_marl.core.registry import register_scenario\n"
        "register_scenario(TOY)\n")
    env = {**os.environ, "XRMARL_PLUGINS": "toy_plugin",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TESTS), str(REPO)])}
    cmd = [sys.executable, "-m", "xr_codec_marl.cli", "evaluate", "--env", "toy", "--scale", "3",
           "--policy", "oracle", "--episodes", "2", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["env"] == "toy" and out["kpis"]["payoff"] == pytest.approx(33.0)
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**env, "XRMARL_PLUGINS": "no_such_plugin_module"})
    assert bad.returncode == 2 and "cannot import 'no_such_plugin_module'" in bad.stderr
    assert "Traceback" not in bad.stderr
