"""The analytic ns3-lte profile keeps tracking the stored ns-3 measurements.

benchmarks/results/calibration_ns3.json holds 90 real ns-3 episodes (APS, max, min at
200/300/400 m). If a change to the analytic model breaks the calibration, this fails.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from xr_codec_marl.baselines import make_policy
from xr_codec_marl.env.factory import env_spec, make_env
from xr_codec_marl.experiments.evaluation import evaluate_policy

RAW = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "calibration_ns3.json"
FLOORS = {"delay_ms": 1.0, "plr": 0.01, "throughput_mbps": 1.0, "jitter_ms": 0.2}


@pytest.mark.parametrize("ring", [200.0, 400.0])
def test_ns3_lte_profile_tracks_ns3(ring):
    ref = [r for r in json.loads(RAW.read_text())["results"] if r["ring_m"] == ring]
    errs, nr_errs = [], []
    for row in ref:
        spec = env_spec("xr", "analytic")
        for profile, bucket in (("ns3-lte", errs), ("nr", nr_errs)):
            res = evaluate_policy(
                lambda n: make_env("xr", "analytic", n, ring_m=ring, profile=profile),
                make_policy(row["policy"], spec), 16, 0, "analytic",
            ).summary()["kpis"]
            for k, floor in FLOORS.items():
                ns3 = float(np.mean(row[k]))
                bucket.append(abs(res[k] - ns3) / max(abs(ns3), floor))
    assert np.mean(errs) < 0.25, np.mean(errs)
    # and the calibration is doing the work: the paper-NR profile is a different cell
    assert np.mean(nr_errs) > 2 * np.mean(errs)
