"""Channel maths and the cell's queueing/scheduling model against brute force."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xr_codec_marl.scenarios.xr import channel
from xr_codec_marl.scenarios.xr.cell import _burst_delays, gps_busy_time, waterfill


def test_uma_nlos_pathloss_matches_the_link_budget_anchors():
    pl = channel.uma_nlos_pathloss_db(np.array([200.0, 400.0]), 4.0)
    assert abs(pl[0] - 116.0) < 1.0 and abs(pl[1] - 127.0) < 1.0
    d = np.linspace(35, 1000, 50)
    assert np.all(np.diff(channel.uma_nlos_pathloss_db(d, 4.0)) > 0)


def test_spectral_efficiency_is_monotonic_and_capped_by_the_mcs_table():
    sinr = np.linspace(-20, 60, 200)
    se = channel.spectral_efficiency(sinr)
    assert np.all(np.diff(se) >= 0)
    assert se.max() == channel.NR_CQI_TABLE2_SE[-1]
    assert se.min() == 0.0  # out of coverage below the lowest CQI
    assert set(np.unique(se)) <= set(channel.NR_CQI_TABLE2_SE) | {0.0}


def test_noise_floor():
    assert abs(channel.thermal_noise_dbm(20e6, 7.0) - (-94.0)) < 0.1


@given(
    st.lists(st.floats(0.0, 0.05), min_size=1, max_size=5),
    st.floats(0.001, 0.05),
)
def test_waterfill_is_max_min_fair(demands, capacity):
    d = np.array(demands)
    a = waterfill(d, capacity)
    assert np.all(a <= d + 1e-12) and np.all(a >= 0)
    assert abs(a.sum() - min(d.sum(), capacity)) < 1e-9
    # nobody unsatisfied gets less than anyone else's allocation
    unsat = a < d - 1e-12
    if unsat.any():
        assert np.all(a[unsat] >= a.max() - 1e-9)


def test_gps_busy_time_small_example():
    # needs 1, 2, 3 ms with all starting together: finish at 3, 5, 6 ms
    busy = gps_busy_time(np.array([0.002, 0.003, 0.001]), 1.0)
    np.testing.assert_allclose(busy, [0.005, 0.006, 0.003])


def _brute_force_burst(q, n, spread, c, m):
    """Packet-by-packet FIFO: packet j arrives at j*spread/n, needs m/c, queue starts at q."""
    free_at = q / c
    delays = []
    for j in range(n):
        a = j * spread / n
        start = max(free_at, a)
        free_at = start + m / c
        delays.append(free_at - a)
    return sum(delays), delays[0], delays[-1]


@settings(max_examples=200)
@given(
    q=st.floats(0, 80_000),
    n=st.integers(1, 70),
    spread_ms=st.floats(0.0, 10.0),
    rate=st.floats(1e5, 3e7),
)
def test_closed_form_burst_delays_equal_a_packet_loop(q, n, spread_ms, rate):
    m, spread = 1500.0, spread_ms * 1e-3
    total, first, last = _burst_delays(
        np.array(q), np.array(float(n)), spread, np.array(rate), m
    )
    bt, bf, bl = _brute_force_burst(q, n, spread, rate, m)
    np.testing.assert_allclose([total, first, last], [bt, bf, bl], rtol=1e-9, atol=1e-12)
