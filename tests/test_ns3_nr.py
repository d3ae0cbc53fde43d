"""The XR scenario on 5G-LENA NR: real binaries, the agent server, the handshake.

Needs the scenarios built with nr (`xr-marl build-ns3 --nr-source ...`); skipped, saying so,
where there is none, and required by ``make test`` where the nr source is present. The LTE
versions of these checks are in test_ns3_build.py and test_ns3_env_xr_codec.py.
"""

from __future__ import annotations

import json
import subprocess
import threading

import numpy as np
import pytest

from nr_support import require_nr
from xr_codec_marl.bridge.build import default_ran, find_binary
from xr_codec_marl.cli import main as cli_main

pytestmark = [pytest.mark.ns3, pytest.mark.nr]


@pytest.fixture(scope="module")
def xr_codec():
    require_nr()
    return str(find_binary("xr-codec"))


def standalone(binary: str, *args: str, timeout: float = 300) -> tuple[list[dict], dict, int, str]:
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    summary = next((x["summary"] for x in lines if "summary" in x), {})
    return [x for x in lines if "window" in x], summary, proc.returncode, proc.stderr


def test_nr_is_the_default_ran_of_a_build_with_nr(xr_codec):
    assert default_ran() == "nr"
    _, summary, rc, err = standalone(xr_codec, "--fixedAction=min", "--episodeLimit=2")
    assert rc == 0, err
    assert summary["ran"] == "nr" and summary["rlc_traces"] is True


@pytest.mark.parametrize("ring", [200, 400])
def test_nr_max_rates_kpis_are_sane(xr_codec, ring):
    windows, summary, rc, err = standalone(xr_codec, "--fixedAction=max", f"--ringRadius={ring}",
                                           "--episodeLimit=6", "--printKpis=true", "--seed=3")
    assert rc == 0 and summary["status"] == "ok", err
    assert summary["ran"] == "nr" and len(windows) == 6
    for w in windows:
        for user, k in w["kpis"].items():
            assert 0 <= k["plr"] <= 1 and abs(k["pdr"] + k["plr"] - 1) < 1e-4, (user, k)
            assert k["delay_ms"] > 0.25 and 0 <= k["buffer_ratio"] <= 1, (user, k)
            # delivered at most what the codec sent (plus the AR side flows)
            assert 0 < k["throughput_mbps"] <= k["codec_rate_mbps"] * 1.25 + 1.0, (user, k)
    m = summary["mean_kpis"]
    # every byte the gNB's RLC took in either left it or was dropped by the full buffer
    for user, k in m.items():
        assert k["rlc_in_bytes"] > 0 and k["rlc_out_bytes"] > 0, user
        assert k["received"] <= k["sent"], user


def test_nr_loses_less_at_min_rates_than_at_max(xr_codec):
    def plr(action: str) -> float:
        _, s, rc, err = standalone(xr_codec, f"--fixedAction={action}", "--ringRadius=400",
                                   "--episodeLimit=6", "--seed=5")
        assert rc == 0, err
        return float(np.mean([k["plr"] for k in s["mean_kpis"].values()]))

    lo, hi = plr("min"), plr("max")
    assert lo < 0.02 and hi > lo + 0.01, (lo, hi)


def test_nr_takes_40_mhz_and_lte_refuses_it(xr_codec):
    _, s, rc, err = standalone(xr_codec, "--fixedAction=max", "--bandwidthMhz=40",
                               "--episodeLimit=2")
    assert rc == 0 and s["ran"] == "nr", err
    _, _, rc, err = standalone(xr_codec, "--ran=lte", "--bandwidthMhz=40", "--episodeLimit=2")
    assert rc == 1 and "LTE bandwidth" in err and "use --ran=nr" in err
    _, _, rc, err = standalone(xr_codec, "--ran=wifi")
    assert rc == 1 and "ran must be nr or lte" in err


def test_serve_runs_an_nr_simulator_with_aps_and_reports_its_ran(xr_codec, tmp_path, capsys):
    """The agent server (`xr-marl serve`) and a real NR simulator: the handshake says NR,
    the episode ends cleanly with sane KPIs; a server for LTE refuses the same simulator."""
    ep = f"ipc://{tmp_path}/nr.sock"
    out: dict = {}
    th = threading.Thread(target=lambda: out.update(rc=cli_main(
        ["serve", "--bind", ep, "--policy", "aps", "--episodes", "1", "--json", "--ring", "300",
         "--ran", "nr", "--episode-limit", "8", "--timeout", "60"])), daemon=True)
    th.start()
    _, summary, rc, err = standalone(xr_codec, f"--endpoint={ep}", "--ringRadius=300",
                                     "--episodeLimit=8", "--seed=2")
    th.join(120)
    assert rc == 0 and summary["status"] == "ok", err
    assert not th.is_alive() and out["rc"] == 0
    rec = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(rec) == 1 and rec[0]["clean"] and rec[0]["windows"] == 8
    assert rec[0]["simulator"]["ran"] == "nr"
    assert float(rec[0]["simulator"]["bandwidth_mhz"]) == 20.0
    assert 0 <= rec[0]["kpis"]["plr"] <= 1 and rec[0]["kpis"]["delay_ms"] > 0

    ep2 = f"ipc://{tmp_path}/lte.sock"
    import sys

    serve = subprocess.Popen([sys.executable, "-m", "xr_codec_marl.cli", "serve", "--bind", ep2,
                              "--policy", "aps", "--episodes", "1", "--ring", "300", "--ran",
                              "lte", "--episode-limit", "8", "--timeout", "5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(3):  # the server may still be starting: the simulator then times out
            _, _, rc, err = standalone(xr_codec, f"--endpoint={ep2}", "--ringRadius=300",
                                       "--episodeLimit=8", "--timeoutMs=5000")
            if "refused" in err:
                break
        assert rc == 2, (rc, err)
        assert "refused the handshake" in err and "simulator ran 'nr', this server serves 'lte'" in err
        assert serve.poll() is None  # one peer refused; the server carries on
    finally:
        serve.terminate()
        serve.communicate(timeout=30)
