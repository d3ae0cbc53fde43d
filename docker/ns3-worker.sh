#!/usr/bin/env bash
# One ns-3 simulator worker: runs xr-codec episodes (one process per episode) against the agent
# server at AGENT_ENDPOINT, over and over, until the server has gone away or MAX_EPISODES ran.
#
#   AGENT_ENDPOINT  [tcp://${AGENT_HOST:-agents}:${AGENT_PORT:-5555}]  where the agent server listens
#   RING [400]  SEED [0]  WORKERS [2]         the same values as the agent server's
#   RAN [default (or empty): the image's default, NR where built]  nr or lte, as the agent server's
#   WORKER_INDEX    this worker's index 0..WORKERS-1 (seeds SEED + index + WORKERS*k); unset: the
#                   lowest free index claimed under $RESULTS/.ns3-workers when RESULTS is a shared
#                   writable volume, else a random one
#   MAX_EPISODES [0: no limit]   SIM_TIMEOUT_MS [10000]  receive timeout of the simulator
#   STARTUP_TIMEOUT_S [600]      give up if no episode completed within this
#   IDLE_EXIT_S [30]             after a completed episode: exit 0 once the server has been
#                                unreachable/refusing for this long (the run is over)
#   SIM_ARGS                     extra xr-codec flags, e.g. "--episodeLimit=20 --printKpis=1"
#   XRMARL_NS3_BUILD             directory holding the xr-codec binary (set in the image)
set -uo pipefail

RING="${RING:-400}"
[ "${RAN:-}" = default ] && RAN=""  # compose passes "default" for the image's own RAN
SEED="${SEED:-0}"
WORKERS="${WORKERS:-2}"
AGENT_ENDPOINT="${AGENT_ENDPOINT:-tcp://${AGENT_HOST:-agents}:${AGENT_PORT:-5555}}"
MAX_EPISODES="${MAX_EPISODES:-0}"
SIM_TIMEOUT_MS="${SIM_TIMEOUT_MS:-10000}"
STARTUP_TIMEOUT_S="${STARTUP_TIMEOUT_S:-600}"
IDLE_EXIT_S="${IDLE_EXIT_S:-30}"
RESULTS="${RESULTS:-${XRMARL_RESULTS:-/results}}"
read -r -a EXTRA <<< "${SIM_ARGS:-}"
[ -n "${RAN:-}" ] && EXTRA=(--ran="$RAN" "${EXTRA[@]}")
HOST="$(hostname 2>/dev/null || echo worker)"

log() { printf '[%s ns3-worker %s] %s\n' "$(date -u +%H:%M:%S)" "${WORKER_INDEX:-?}" "$*" >&2; }

BIN="${XRMARL_NS3_BIN:-${XRMARL_NS3_BUILD:-/opt/xr-codec-marl/bin}/xr-codec}"
[ -x "$BIN" ] || BIN="$(command -v xr-codec || true)"
[ -n "$BIN" ] && [ -x "$BIN" ] || { log "error: xr-codec binary not found (set XRMARL_NS3_BUILD)"; exit 1; }

claim=""
release() { [ -n "$claim" ] && rm -rf "$claim" 2>/dev/null; claim=""; }
if [ -z "${WORKER_INDEX:-}" ]; then
  dir="$RESULTS/.ns3-workers"
  if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
    now=$(date +%s)
    for i in $(seq 0 999); do
      d="$dir/$i"
      # a claim whose heartbeat stopped more than 60 s ago belongs to a worker that is gone
      if [ -d "$d" ] && [ $(( now - $(stat -c %Y "$d" 2>/dev/null || echo "$now") )) -gt 60 ]; then
        mv "$d" "$d.stale.$$" 2>/dev/null && rm -rf "$d.stale.$$"
      fi
      if mkdir "$d" 2>/dev/null; then
        echo "$HOST" > "$d/owner"; claim="$d"; WORKER_INDEX="$i"; break
      fi
    done
  fi
  WORKER_INDEX="${WORKER_INDEX:-$(( RANDOM % 1000 ))}"
fi

child=""
stop() { log "stopping"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"; release; exit 0; }
trap stop TERM INT
trap release EXIT

log "endpoint $AGENT_ENDPOINT, ran ${RAN:-default}, ring $RING m, seeds $((SEED + WORKER_INDEX)) + $WORKERS*k, binary $BIN"
start=$(date +%s)
done_eps=0
fail_since=""
backoff=1
while :; do
  [ -n "$claim" ] && touch "$claim"
  seed=$(( SEED + WORKER_INDEX + WORKERS * done_eps ))
  t0=$(date +%s)
  "$BIN" --endpoint="$AGENT_ENDPOINT" --seed="$seed" --run=$(( WORKER_INDEX + 1 )) \
    --ringRadius="$RING" --timeoutMs="$SIM_TIMEOUT_MS" \
    --identity="sim-${HOST}-w${WORKER_INDEX}-s${seed}-$$-${RANDOM}" "${EXTRA[@]}" &
  child=$!
  wait "$child"; rc=$?; child=""
  now=$(date +%s)
  if [ "$rc" -eq 0 ]; then
    done_eps=$((done_eps + 1))
    log "episode done: seed $seed, $((now - t0)) s wall ($done_eps by this worker)"
    fail_since=""; backoff=1
    if [ "$MAX_EPISODES" -gt 0 ] && [ "$done_eps" -ge "$MAX_EPISODES" ]; then
      log "MAX_EPISODES=$MAX_EPISODES reached"; exit 0
    fi
    continue
  fi
  [ "$rc" -eq 1 ] && { log "error: xr-codec rejected its arguments (exit 1)"; exit 1; }
  [ "$rc" -ge 128 ] && { log "xr-codec killed by signal $((rc - 128))"; }
  fail_since="${fail_since:-$now}"
  if [ "$done_eps" -gt 0 ] && [ $(( now - fail_since )) -ge "$IDLE_EXIT_S" ]; then
    log "agent server gone or refusing for $((now - fail_since)) s after $done_eps episode(s): exiting"
    exit 0
  fi
  if [ "$done_eps" -eq 0 ] && [ $(( now - start )) -ge "$STARTUP_TIMEOUT_S" ]; then
    log "error: no episode completed within ${STARTUP_TIMEOUT_S} s (agent server at $AGENT_ENDPOINT?)"
    exit 1
  fi
  log "no episode (xr-codec exit $rc: $( case $rc in 2) echo refused/protocol ;; 3) echo 'server not answering' ;; *) echo other ;; esac)); retrying in ${backoff} s"
  sleep "$backoff" & child=$!; wait "$child"; child=""
  backoff=$(( backoff < 8 ? backoff * 2 : 10 ))
done
