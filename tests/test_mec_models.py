"""The multi-MEC physics against hand-worked numbers (REFERENCE.md §7)."""

from __future__ import annotations

import numpy as np
import pytest

from xr_codec_marl.scenarios.mec import models as m

MBIT = 1e6
CYCLES = 1000 * MBIT  # 1 Mbit at 1000 cycles/bit


def test_local_execution_of_one_mbit_takes_one_second_and_one_joule() -> None:
    assert m.local_time(CYCLES, 1e9) == pytest.approx(1.0)
    assert m.local_energy(CYCLES, 1e9, kappa=1e-27) == pytest.approx(1.0)
    assert m.local_energy(CYCLES, 2e9, kappa=1e-27) == pytest.approx(4.0)  # f² scaling


def test_edge_and_uplink_times() -> None:
    assert CYCLES / 20e9 == pytest.approx(0.05)  # 20 GHz server
    assert m.tx_time(MBIT, 20e6) == pytest.approx(0.05)
    assert m.tx_energy(MBIT, 20e6, 0.2) == pytest.approx(0.01)
    assert m.tx_time(MBIT, 0.0) == np.inf


def test_shannon_rate_and_noise() -> None:
    # -174 dBm/Hz over 1 MHz = -114 dBm
    assert 10 * np.log10(m.noise_w(1e6) * 1e3) == pytest.approx(-114.0)
    b = 1e6
    gain = 1e3 * m.noise_w(b) / 0.1  # SNR 1000 at 0.1 W
    assert m.uplink_rate(b, 0.1, gain) == pytest.approx(b * np.log2(1001.0))
    # interference equal to the noise halves the SNR
    assert m.uplink_rate(b, 0.1, gain, interference_w=m.noise_w(b)) == pytest.approx(
        b * np.log2(1 + 500.0))


def test_path_loss_models() -> None:
    assert m.path_loss_db(1000.0) == pytest.approx(128.1)
    assert m.path_loss_db(100.0) == pytest.approx(128.1 - 37.6)
    pl = m.path_loss_db(np.array([50.0, 200.0, 800.0]), "uma-nlos", carrier_ghz=3.5)
    assert np.all(np.diff(pl) > 0) and 80 < pl[0] < 110
    with pytest.raises(ValueError, match="unknown path-loss model"):
        m.path_loss_db(10.0, "free")


def test_partial_offloading_bounds_and_balanced_split() -> None:
    kw = dict(bits=MBIT, cycles=CYCLES, f_local_hz=1e9, rate_bps=20e6, f_server_hz=20e9,
              tx_power_w=0.2)
    t0, e0 = m.partial_offload(0.0, **kw)
    t1, e1 = m.partial_offload(1.0, **kw)
    assert (t0, e0) == (pytest.approx(1.0), pytest.approx(1.0))
    assert (t1, e1) == (pytest.approx(0.1), pytest.approx(0.01))
    a = m.balanced_split(1.0, 0.1)
    ta, _ = m.partial_offload(a, **kw)
    assert ta == pytest.approx((1 - a) * 1.0) and ta < 0.1  # both parts end together
    # a queue wait adds to the remote part only
    tw, _ = m.partial_offload(1.0, wait_s=0.3, **kw)
    assert tw == pytest.approx(0.4)


def test_jain_index() -> None:
    assert m.jain_index(np.ones(7)) == pytest.approx(1.0)
    assert m.jain_index(np.array([1.0, 0, 0, 0])) == pytest.approx(0.25)
    assert m.jain_index(np.zeros(3)) == pytest.approx(1.0)
    np.testing.assert_allclose(m.jain_index(np.array([[1.0, 1.0], [2.0, 0.0]])), [1.0, 0.5])


def test_priority_score_and_mm1() -> None:
    p = m.priority_score(t_remaining_s=0.5, deadline_s=1.0, cycles=2e9, c_max=4e9, sla=1.0)
    assert p == pytest.approx(0.4 * 0.5 + 0.3 * 0.5 + 0.3)
    assert m.mm1_mean_wait(5.0, 10.0) == pytest.approx(0.5 / 5.0)
    assert m.mm1_mean_wait(10.0, 10.0) == float("inf")


# --------------------------------------------------------------------------- settings

from xr_codec_marl.scenarios.mec.settings import MECSettings, preset  # noqa: E402


def test_presets() -> None:
    mm = preset("multi-mec")
    assert (mm.devices, mm.servers, mm.n_agents) == (50, 9, 50)
    ai = preset("aiot")
    assert (ai.servers, ai.devices, ai.n_agents) == (25, 50, 25)
    assert preset("aiot", servers=10).n_agents == 10
    assert MECSettings().to_dict()["data_bits"] == [0.16e6, 5e6]


@pytest.mark.parametrize("changes, message", [
    ({"devices": 0}, "devices must be >= 1"),
    ({"servers": -1}, "servers must be >= 1"),
    ({"arrival_rate_hz": -1.0}, "arrival_rate_hz must be >= 0"),
    ({"mttr_s": -0.5}, "mttr_s must be >= 0"),
    ({"variant": "calm"}, "unknown variant 'calm'"),
    ({"queue": "lifo"}, "unknown queue 'lifo'"),
    ({"deadline_s": (1.0, 0.5)}, "deadline_s must be a range"),
    ({"offload_fractions": (0.0,)}, "offload_fractions must lie in"),
])
def test_bad_settings_are_one_line_errors(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        preset("multi-mec", **changes)
    with pytest.raises(ValueError, match="unknown preset 'edge'"):
        preset("edge")
    with pytest.raises(ValueError, match="unknown MEC setting"):
        preset("aiot", nodes=3)


# --------------------------------------------------------------------------- processes

from xr_codec_marl.scenarios.mec.processes import (  # noqa: E402
    FailureProcess, TaskSampler, arrival_multiplier)


def test_poisson_arrivals_have_the_set_rate_and_ranges() -> None:
    s = preset("multi-mec", arrival_rate_hz=5.0, decision_step_s=0.1)
    tasks = TaskSampler(s, 64, np.random.default_rng(0))
    counts = np.stack([tasks.sample(0.1 * t, 50).count for t in range(200)])
    assert counts.mean() == pytest.approx(0.5, rel=0.02)  # λ dt
    assert counts.var() == pytest.approx(0.5, rel=0.05)  # Poisson: variance = mean
    new = tasks.sample(0.0, 50)
    assert new.valid.sum() == new.count.sum() and (new.bits[~new.valid] == 0).all()
    bits, cycles = new.bits[new.valid], new.cycles[new.valid]
    assert bits.min() >= s.data_bits[0] and bits.max() <= s.data_bits[1]
    offsets = np.where(new.valid, new.offset_s, 1e9)
    assert (np.diff(offsets, axis=-1)[new.valid[..., 1:]] >= 0).all()  # sorted per device
    ratio = cycles / bits
    assert ratio.min() >= s.cycles_per_bit[0] and ratio.max() <= s.cycles_per_bit[1]
    a = TaskSampler(s, 4, np.random.default_rng(7)).sample(0.0, 5)
    b = TaskSampler(s, 4, np.random.default_rng(7)).sample(0.0, 5)
    np.testing.assert_array_equal(a.cycles, b.cycles)  # seeded


def test_load_peaks_multiply_the_rate_inside_each_peak() -> None:
    s = preset("multi-mec", variant="load-peaks", peak_multiplier=3.0, peak_period_s=4.0,
               peak_duration_s=1.0)
    assert [arrival_multiplier(s, t) for t in (0.0, 0.9, 1.0, 3.9, 4.5)] == [3, 3, 1, 1, 3]
    assert arrival_multiplier(preset("multi-mec"), 0.5) == 1.0


def test_failures_keep_servers_up_mtbf_over_mtbf_plus_mttr_of_the_time() -> None:
    s = preset("multi-mec", variant="failures", mtbf_s=4.0, mttr_s=1.0, decision_step_s=0.1)
    proc = FailureProcess(s, 32, 9, np.random.default_rng(1))
    up = np.mean([proc.step()[0].mean() for _ in range(3000)])
    assert up == pytest.approx(0.8, abs=0.02)
    stable = FailureProcess(preset("multi-mec"), 4, 3, np.random.default_rng(1))
    assert all(stable.step()[0].all() for _ in range(100))  # no failures outside the variant


# --------------------------------------------------------------------------- radio

from xr_codec_marl.scenarios.mec.radio import Radio, server_positions  # noqa: E402


def test_servers_on_a_grid_and_walking_devices_stay_inside() -> None:
    np.testing.assert_allclose(server_positions(4, 100.0), [[25, 25], [75, 25], [25, 75], [75, 75]])
    assert server_positions(9, 900.0).shape == (9, 2)
    s = preset("multi-mec", speed_mps=10.0, area_m=100.0)
    radio = Radio(s, 3, 20, 4, np.random.default_rng(2))
    start = radio.pos.copy()
    radio.move(0.1)
    step = np.linalg.norm(radio.pos - start, axis=-1)
    assert np.all(step <= 1.0 + 1e-9) and np.median(step) == pytest.approx(1.0)
    for _ in range(500):
        radio.move(1.0)
    assert radio.pos.min() >= 0 and radio.pos.max() <= 100.0


def test_devices_on_one_server_share_its_bandwidth() -> None:
    s = preset("multi-mec", shadowing_db=0.0, interference_dbm=-300.0)
    radio = Radio(s, 1, 3, 2, np.random.default_rng(0))
    g = np.full((1, 3, 2), 1e-10)
    p = np.full((1, 3), 0.2)
    alone = radio.rates(np.array([[0, -1, -1]]), p, g)
    shared = radio.rates(np.array([[0, 0, 1]]), p, g)
    bw, noise = s.bandwidth_hz, m.noise_w
    assert alone[0, 0] == pytest.approx(bw * np.log2(1 + 0.2e-10 / noise(bw, 5.0)), rel=1e-6)
    assert shared[0, 0] == pytest.approx(bw / 2 * np.log2(1 + 0.2e-10 / noise(bw / 2, 5.0)), rel=1e-6)
    assert shared[0, 2] == pytest.approx(alone[0, 0], rel=1e-6)  # alone on server 1
    assert alone[0, 1] == 0.0  # not uploading


def test_nearest_server_is_the_closest_without_shadowing() -> None:
    s = preset("multi-mec", shadowing_db=0.0)
    radio = Radio(s, 2, 30, 9, np.random.default_rng(4))
    np.testing.assert_array_equal(radio.nearest(), radio.distances().argmin(axis=-1))


def test_one_log_path_loss_equals_the_formula_of_tr_38_901() -> None:
    """path_loss_db_sq (one log10 per element) equals a direct transcription of UMa NLoS."""
    d = np.array([1.0, 10.0, 37.0, 120.0, 400.0, 999.0, 3000.0])
    hb, hu, fc = 25.0, 1.5, 3.5
    d3 = np.sqrt(d**2 + (hb - hu) ** 2)
    bp = 4 * (hb - 1) * (hu - 1) * fc * 1e9 / 3e8
    los = np.where(d <= bp, 28 + 22 * np.log10(d3) + 20 * np.log10(fc),
                   28 + 40 * np.log10(d3) + 20 * np.log10(fc) - 9 * np.log10(bp**2 + (hb - hu) ** 2))
    nlos = 13.54 + 39.08 * np.log10(d3) + 20 * np.log10(fc) - 0.6 * (hu - 1.5)
    np.testing.assert_allclose(m.path_loss_db(d, "uma-nlos", fc), np.maximum(los, nlos), rtol=1e-12)
    np.testing.assert_allclose(m.path_loss_db(d, "macro"), 128.1 + 37.6 * np.log10(d / 1000), rtol=1e-12)
