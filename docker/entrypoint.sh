#!/usr/bin/env bash
# Entrypoint of the xr-codec-marl image. The first argument picks the role:
#
#   agents       the agent server on the ns-3 backend, attached to simulators started elsewhere
#                (the `ns3` compose service): MODE=evaluate (default) | train | serve
#   ns3-worker   one simulator worker: runs xr-codec episodes against the agent server in a loop
#   sweep        `xr-marl sweep` over RINGS x POLICIES x SEEDS (simulators launched in-container)
#   anything else is run as a command, e.g. `xr-marl evaluate --help`, `bash`
#
# Settings come from environment variables (compose.yaml passes them; defaults in brackets):
#   RAN [default (or empty): nr where the image has it, else lte]
#   RING [400]  POLICY [aps]  MODE [evaluate]  ALGO [mha-dqmix]  TRAIN_STEPS [2000]
#   SEED [0]  EPISODES [2]  WORKERS [2]  AGENT_PORT [5555]  SIM_TIMEOUT [60]
#   RESULTS [/results]  RUN_NAME [<mode>-<policy|algo>-ring<RING>-seed<SEED>]
#   EXTRA_ARGS   extra flags for the xr-marl command of the role
#   sweep: RINGS [200,300,400]  POLICIES [aps,mha-dqmix]  SEEDS [2]  SWEEP_BACKEND [ns3]
#          JOBS [1]  SWEEP_EPISODES [EPISODES]  SWEEP_NAME [sweep]
set -euo pipefail

# Started as root (compose does, to fit the results directory's owner): run everything as the
# owner of the results directory (your uid for an existing ./results; files stay yours), or as
# the image's user 10001 if the directory belongs to root (e.g. created by the Docker daemon).
if [ "$(id -u)" = 0 ] && [ -z "${XRMARL_STAY_ROOT:-}" ]; then
  res="${RESULTS:-${XRMARL_RESULTS:-/results}}"
  mkdir -p "$res"
  uid="$(stat -c %u "$res")"; gid="$(stat -c %g "$res")"
  if [ "$uid" = 0 ]; then
    uid=10001; gid=10001
    chown "$uid:$gid" "$res"
  fi
  if [ "$uid" = 10001 ]; then export HOME=/home/xrmarl; else export HOME=/tmp/xrmarl-home; fi
  exec setpriv --reuid "$uid" --regid "$gid" --clear-groups -- "$0" "$@"
fi

RING="${RING:-400}"
[ "${RAN:-}" = default ] && RAN=""  # compose passes "default" for the image's own RAN
POLICY="${POLICY:-aps}"
MODE="${MODE:-evaluate}"
ALGO="${ALGO:-mha-dqmix}"
TRAIN_STEPS="${TRAIN_STEPS:-2000}"
SEED="${SEED:-0}"
EPISODES="${EPISODES:-2}"
WORKERS="${WORKERS:-2}"
AGENT_PORT="${AGENT_PORT:-5555}"
SIM_TIMEOUT="${SIM_TIMEOUT:-60}"
RESULTS="${RESULTS:-${XRMARL_RESULTS:-/results}}"
BIND="${BIND:-tcp://0.0.0.0:${AGENT_PORT}}"
read -r -a EXTRA <<< "${EXTRA_ARGS:-}"

log() { printf '[%s %s] %s\n' "$(date -u +%H:%M:%S)" "${ROLE:-xrmarl}" "$*" >&2; }

writable_results() {
  mkdir -p "$RESULTS" 2>/dev/null || true
  if ! touch "$RESULTS/.write-test" 2>/dev/null; then
    log "error: $RESULTS is not writable by uid $(id -u). On the host: mkdir -p results && chmod a+rwx results (or start the container as root: it then runs as the directory's owner)"
    exit 1
  fi
  rm -f "$RESULTS/.write-test"
}

agents() {
  ROLE=agents
  writable_results
  local name="${RUN_NAME:-}" out
  case "$MODE" in
    evaluate) name="${name:-evaluate-$(basename "$POLICY")-ring${RING}-seed${SEED}}" ;;
    train) name="${name:-train-${ALGO}-ring${RING}-seed${SEED}}" ;;
    serve) name="${name:-serve-$(basename "$POLICY")-ring${RING}}" ;;
    *) log "error: MODE must be evaluate, train or serve, got '$MODE'"; exit 2 ;;
  esac
  out="$RESULTS/$name"
  mkdir -p "$out"
  local ns3=(--env xr --backend ns3 --attach --endpoint "$BIND" --workers "$WORKERS"
             --ring "$RING" --seed "$SEED" --sim-timeout "$SIM_TIMEOUT")
  [ -n "${RAN:-}" ] && ns3+=(--ran "$RAN")
  log "MODE=$MODE RAN=${RAN:-default} POLICY=$POLICY ALGO=$ALGO RING=$RING SEED=$SEED EPISODES=$EPISODES WORKERS=$WORKERS; simulators connect to port $AGENT_PORT; results in $out"
  case "$MODE" in
    evaluate)
      xr-marl evaluate "${ns3[@]}" --policy "$POLICY" --episodes "$EPISODES" --json "${EXTRA[@]}" \
        > "$out/summary.json.tmp"
      mv "$out/summary.json.tmp" "$out/summary.json"
      ;;
    train)
      xr-marl train "${ns3[@]}" --algo "$ALGO" --steps "$TRAIN_STEPS" --out "$out" \
        --no-progress "${EXTRA[@]}"
      local ckpt="$out/checkpoint.pt"
      [ -f "$ckpt" ] || { log "error: training wrote no checkpoint at $ckpt"; exit 1; }
      log "evaluating $ckpt"
      xr-marl evaluate "${ns3[@]}" --policy "$ckpt" --episodes "$EPISODES" --json \
        > "$out/summary.json.tmp"
      mv "$out/summary.json.tmp" "$out/summary.json"
      ;;
    serve)
      # open-ended: one JSON line per episode; stops after EPISODES (0: serve until stopped)
      local stop=()
      [ "$EPISODES" != 0 ] && stop=(--episodes "$EPISODES")
      [ -n "${RAN:-}" ] && stop+=(--ran "$RAN")
      xr-marl serve --bind "$BIND" --policy "$POLICY" --ring "$RING" --timeout "$SIM_TIMEOUT" \
        --json "${stop[@]}" "${EXTRA[@]}" | tee -a "$out/episodes.jsonl"
      ;;
  esac
  if [ -f "$out/summary.json" ]; then
    log "summary: $out/summary.json"
    python - "$out/summary.json" <<'EOF' >&2
import json, sys
s = json.load(open(sys.argv[1]))
k = s.get("kpis", {})
print(f"  {s.get('policy')} on {s.get('backend')} {s.get('ran', '')} at {s.get('ring_m')} m, {s.get('episodes')} episodes: "
      + ", ".join(f"{n} {k[n]:.4g}" for n in ("xr_index", "delay_ms", "jitter_ms", "plr", "throughput_mbps") if n in k))
EOF
  fi
  log "done"
}

sweep() {
  ROLE=sweep
  writable_results
  local out="$RESULTS/${SWEEP_NAME:-sweep}"
  local ran=()
  [ -n "${RAN:-}" ] && [ "${SWEEP_BACKEND:-ns3}" = ns3 ] && ran=(--ran "$RAN")
  log "sweep RAN=${RAN:-default} RINGS=${RINGS:-200,300,400} POLICIES=${POLICIES:-aps,mha-dqmix} SEEDS=${SEEDS:-2} backend ${SWEEP_BACKEND:-ns3} -> $out"
  exec xr-marl sweep --rings "${RINGS:-200,300,400}" --policies "${POLICIES:-aps,mha-dqmix}" \
    --seeds "${SEEDS:-2}" --episodes "${SWEEP_EPISODES:-$EPISODES}" --train-steps "$TRAIN_STEPS" \
    --backend "${SWEEP_BACKEND:-ns3}" --workers "$WORKERS" --jobs "${JOBS:-1}" --seed "$SEED" \
    --out "$out" "${ran[@]}" "${EXTRA[@]}"
}

role="${1:-agents}"
case "$role" in
  agents) agents ;;
  ns3-worker) shift; exec xrmarl-ns3-worker "$@" ;;
  sweep) sweep ;;
  *) exec "$@" ;;
esac
