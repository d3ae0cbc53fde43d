"""An ``Ns3Env`` nobody closed must not hang its process: on garbage collection and at exit its
simulators are stopped and its socket released, without blocking (it used to block forever in
pyzmq's ``Context.__del__ -> term()`` on the still-open socket).

Each case runs in a fresh interpreter with the fake simulator of ``test_bridge_fakesim`` as the
launched binary, so a regression shows up as a timeout, never as a hung test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent("""
    import gc, os, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    from xr_codec_marl.scenarios.xr.ns3 import xr_ns3_env
    from xr_codec_marl.scenarios.xr.settings import XRScenario

    env = xr_ns3_env(XRScenario(episode_limit=20), workers=2,
                 binary=[sys.executable, {fakesim!r}], sim_args=["--episode-limit=20"],
                 timeout_s=5.0, connect_timeout_s=30.0)
    env.reset(seed=1)
    for _ in range(3):
        env.step(np.zeros((2, 3), int))
    pids = [p.pid for p in env.launcher.processes]
    if {collect}:
        del env
        gc.collect()

        def alive(pid):
            try:
                os.kill(pid, 0)
                return True
            except ProcessLookupError:
                return False

        print("alive after gc:", [p for p in pids if alive(p)], flush=True)
    print("pids:", pids, flush=True)
""")


@pytest.mark.parametrize("collect", [True, False], ids=["del+gc", "exit"])
def test_an_unclosed_env_neither_hangs_nor_leaves_simulators(collect):
    code = SCRIPT.format(tests=str(TESTS), fakesim=str(TESTS / "test_bridge_fakesim.py"),
                         collect=collect)
    try:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the process hung after the env went out of use: {exc.stdout!r}")
    assert run.returncode == 0, run.stderr[-2000:]
    if collect:  # the finalizers stopped and reaped the simulators, not just the kernel
        assert "alive after gc: []" in run.stdout, run.stdout
    pids = [int(p) for p in run.stdout.split("pids: [")[1].split("]")[0].split(",")]
    assert len(pids) == 2
    for pid in pids:  # gone once the parent is (reaped, or killed with it by the kernel)
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_an_unclosed_bridge_server_in_a_reference_cycle_is_released(tmp_path):
    """The cycle ``Ns3Env`` makes (``server.admit`` is its bound method) with the server alone."""
    code = textwrap.dedent(f"""
        import gc
        from xr_codec_marl.bridge.server import BridgeServer

        class Owner:
            def __init__(self):
                self.server = BridgeServer("ipc://{tmp_path}/s.sock")
                self.server.admit = self.admit

            def admit(self, hello, spec):
                return None

        owner = Owner()
        del owner
        gc.collect()
        print("released", flush=True)
    """)
    try:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("garbage-collecting an unclosed BridgeServer hung")
    assert run.returncode == 0 and "released" in run.stdout, run.stderr[-2000:]
