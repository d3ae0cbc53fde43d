#!/usr/bin/env bash
# Container test: build the xr-codec-marl image with podman on a debootstrapped Debian base and
# run compose.yaml with podman-compose, checking that ns-3 workers ran episodes against the
# agent server and that the server finished and wrote results.
#
# For machines without a Docker daemon and without access to image registries (only Debian and
# PyPI reachable). Needs root (apt-get, debootstrap, rootful podman).
#
#   scripts/container-test.sh            # everything: setup, base image, image build, compose run
#   KEEP=1 scripts/container-test.sh     # leave containers and the results dir for inspection
#
# Environment:
#   CACHE_DIR    where the bookworm rootfs tarball is cached  [~/.cache/xr-codec-marl]
#   MIRROR       Debian mirror for debootstrap                [from /etc/apt/sources.list*]
#   TORCH_WHEEL  CPU torch wheel copied into the build context [found via pip's find-links]
#   NR_TARBALL   5G-LENA nr release copied into vendor/ of the build context, so the image
#                runs NR    [vendor/5g-lena-nr-*.tar.gz, else ../shared/vendor/...; none: LTE]
#   IMAGE        image tag                                   [xr-codec-marl:test]
#   EPISODES, WORKERS, RING, POLICY   passed to compose      [2, 2, 400, aps]
#   TIMEOUT_S    limit for the compose run                    [900]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CACHE_DIR:-$HOME/.cache/xr-codec-marl}"
BASE_TAG="localhost/xr-codec-marl/debian:bookworm-minbase"
IMAGE="${IMAGE:-localhost/xr-codec-marl:test}"
EPISODES="${EPISODES:-2}"
WORKERS="${WORKERS:-2}"
RING="${RING:-400}"
POLICY="${POLICY:-aps}"
TIMEOUT_S="${TIMEOUT_S:-900}"
PROJECT="xrmarl-ctest"

say() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
die() { printf 'container-test: FAIL: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ 1. host tools
say "host tools"
need=()
for p in podman podman-compose debootstrap runc; do
  command -v "$p" >/dev/null || need+=("$p")
done
# CNI's dnsname plugin: containers resolve each other by service name (ns3 -> agents)
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    podman podman-compose debootstrap runc uidmap slirp4netns fuse-overlayfs \
    golang-github-containernetworking-plugin-dnsname >/dev/null
fi
podman --version
podman-compose version 2>/dev/null | grep -i "composer version" | head -1 || true

# Containers need ulimits within the machine's hard limits (lower than podman's defaults), and
# on a cgroup v1/v2 hybrid host crun refuses to start containers ("cgroups in hybrid mode not
# supported"): use runc there.
CONF=/etc/containers/containers.conf
if ! grep -qs 'default_ulimits' "$CONF"; then
  echo "writing $CONF"
  mkdir -p /etc/containers
  { [ -f "$CONF" ] && cat "$CONF"
    printf '\n[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
    if grep -qs cgroup2 /proc/mounts && grep -qsE '^cgroup .*(cpu|memory)' /proc/mounts; then
      printf '\n[engine]\nruntime = "runc"\n'
    fi
  } > "$CONF.new"
  mv "$CONF.new" "$CONF"
fi
grep -v '^#' "$CONF" | grep -v '^$' | sed 's/^/  /'

# ------------------------------------------------------------------ 2. base image (no registry)
say "base image $BASE_TAG"
if ! podman image exists "$BASE_TAG"; then
  mkdir -p "$CACHE_DIR"
  TARBALL="$CACHE_DIR/bookworm-minbase.tar"
  if [ ! -s "$TARBALL" ]; then
    if [ -z "${MIRROR:-}" ]; then
      MIRROR="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* \
        | grep -o 'https\?://[^ ]*debian[^ ]*' | grep -v security | head -1 || true)"
      MIRROR="${MIRROR:-http://deb.debian.org/debian}"
    fi
    ROOTFS="$CACHE_DIR/rootfs-bookworm-minbase"
    if [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
      echo "debootstrap --variant=minbase bookworm from $MIRROR"
      rm -rf "$ROOTFS.tmp"
      nice debootstrap --variant=minbase bookworm "$ROOTFS.tmp" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE_DIR/debootstrap.log"; die "debootstrap failed"; }
      mv "$ROOTFS.tmp" "$ROOTFS"
    fi
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* 2>/dev/null || true
    tar -C "$ROOTFS" --numeric-owner -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
  fi
  podman import --change 'CMD ["/bin/bash"]' "$TARBALL" "$BASE_TAG" >/dev/null
fi
podman image ls "$BASE_TAG"

# ------------------------------------------------------------------ 3. image build
# Build context: the committed tree (CONTEXT=head, default: others' uncommitted edits in a
# shared checkout stay out) or the working tree as it is (CONTEXT=worktree).
CONTEXT="${CONTEXT:-head}"
if [ "$CONTEXT" = head ] && git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
  CTX="$CACHE_DIR/context"
  rm -rf "$CTX"; mkdir -p "$CTX"
  git -C "$REPO" archive HEAD | tar -x -C "$CTX"
  say "image build $IMAGE from $(git -C "$REPO" rev-parse --short HEAD) (git archive HEAD)"
else
  CTX="$REPO"
  say "image build $IMAGE from the working tree"
fi
WHEELS="$CTX/docker/wheels"
if [ -z "${TORCH_WHEEL:-}" ]; then
  # pip's configured find-links (the CPU wheel on disk), e.g. PIP_FIND_LINKS=/opt/wheels
  for d in $(pip config list 2>/dev/null | grep -i 'find-links' | cut -d= -f2- | tr -d "'\""); do
    TORCH_WHEEL="$(ls "$d"/torch-*cpu*cp311*.whl 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$TORCH_WHEEL" ] && break
  done
fi
[ -n "${TORCH_WHEEL:-}" ] && [ -f "$TORCH_WHEEL" ] || die "no CPU torch wheel for cp311 found (set TORCH_WHEEL)"
mkdir -p "$WHEELS"
# hard link when possible (same filesystem), else copy; docker/wheels/*.whl is git- and never committed
[ -f "$WHEELS/$(basename "$TORCH_WHEEL")" ] || ln "$TORCH_WHEEL" "$WHEELS/" 2>/dev/null || cp "$TORCH_WHEEL" "$WHEELS/"
echo "torch from the build context: docker/wheels/$(basename "$TORCH_WHEEL")"
if [ -z "${NR_TARBALL:-}" ]; then
  NR_TARBALL="$(ls "$REPO"/vendor/5g-lena-nr-*.tar.gz "$REPO"/../shared/vendor/5g-lena-nr-*.tar.gz 2>/dev/null | head -1 || true)"
fi
EXPECT_RAN=lte
if [ -n "$NR_TARBALL" ]; then
  mkdir -p "$CTX/vendor"
  [ -f "$CTX/vendor/$(basename "$NR_TARBALL")" ] || ln "$NR_TARBALL" "$CTX/vendor/" 2>/dev/null \
    || cp "$NR_TARBALL" "$CTX/vendor/"
  EXPECT_RAN=nr
  echo "5G-LENA nr from the build context: vendor/$(basename "$NR_TARBALL") (the image runs NR)"
else
  echo "no 5G-LENA nr tarball (NR_TARBALL): the image runs LTE only"
fi
# A TLS-intercepting proxy between the build and PyPI: give pip the host's extra CA certificates
# (build stages only; docker/certs/*.crt is git-ignored).
for c in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$c" ] && cp "$c" "$CTX/docker/certs/"
done
build_start=$(date +%s)
nice podman build --format docker \
  --build-arg BASE_IMAGE="$BASE_TAG" \
  --build-arg TORCH_INDEX_URL= \
  --build-arg TORCH_WHEEL_DIR=docker/wheels \
  -t "$IMAGE" -f "$CTX/Dockerfile" "$CTX" 2>&1 | tee "$CACHE_DIR/build.log" | grep -E '^(STEP|COMMIT|Successfully|Error|error)|xr-marl build-ns3|Built target xr-codec' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { tail -40 "$CACHE_DIR/build.log"; die "image build failed (log: $CACHE_DIR/build.log)"; }
echo "build took $(( $(date +%s) - build_start )) s"
podman image ls "$IMAGE"

# ------------------------------------------------------------------ 4. inside the image
say "image smoke checks"
podman run --rm "$IMAGE" sh -c 'id -un; xr-marl --help | head -3; python -c "import torch, xr_codec_marl; print(\"torch\", torch.__version__)"; xrmarl-healthcheck --help >/dev/null && echo healthcheck ok; command -v xr-codec && xr-codec --help 2>&1 | head -2' 2>&1 \
  | grep -v 'unable to get systemd' || true

# ------------------------------------------------------------------ 5. compose up
say "podman-compose up (POLICY=$POLICY RING=$RING EPISODES=$EPISODES WORKERS=$WORKERS)"
RESULTS="$(mktemp -d /tmp/xrmarl-ctest-results.XXXXXX)"
# root-owned, as when the Docker daemon creates ./results: the containers adopt uid 10001 for it
export XRMARL_IMAGE="$IMAGE" RESULTS_DIR="$RESULTS" EPISODES WORKERS RING POLICY
cd "$CTX"
compose=(podman-compose -p "$PROJECT" -f compose.yaml)
cleanup() {
  if [ -z "${KEEP:-}" ]; then
    "${compose[@]}" down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
"${compose[@]}" down >/dev/null 2>&1 || true
# a project network left from a run before the dnsname plugin was installed has no DNS
if podman network exists "${PROJECT}_default" 2>/dev/null \
   && ! grep -qs dnsname "/etc/cni/net.d/${PROJECT}_default.conflist"; then
  podman network rm "${PROJECT}_default" >/dev/null
fi
run_start=$(date +%s)
set +e
# podman-compose 1.0 has no profiles: name the services of the default run explicitly.
timeout "$TIMEOUT_S" "${compose[@]}" up --no-build --exit-code-from agents agents ns3 \
  > "$RESULTS/compose.log" 2>&1 &
up=$!
# podman runs HEALTHCHECKs from systemd timers, absent here: run the agents' check by hand
health=""
while kill -0 "$up" 2>/dev/null; do
  if [ -z "$health" ] && podman healthcheck run "${PROJECT}_agents_1" >/dev/null 2>&1; then
    health="healthy after $(( $(date +%s) - run_start )) s"
  fi
  sleep 3
done
wait "$up"; rc=$?
set -e
echo "compose up exited with $rc after $(( $(date +%s) - run_start )) s"
grep -vE '^\*\*|^podman (start|create|run|network|pod)|^(exit code|using podman|podman-compose|\[)|^[0-9a-f]{64}$|unable to get systemd' \
  "$RESULTS/compose.log" | cut -c1-200 | tail -60 || true

# ------------------------------------------------------------------ 6. checks
say "checks"
for n in $(seq 1 "$WORKERS"); do
  podman logs "${PROJECT}_ns3_$n" > "$RESULTS/ns3_$n.log" 2>&1 || true
done
podman logs "${PROJECT}_agents_1" > "$RESULTS/agents.log" 2>&1 || true
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
check "agents exited 0" '[ "$rc" -eq 0 ]'
check "agents health check passed while serving (${health:-never})" '[ -n "$health" ]'
check "ns-3 workers completed episodes" 'grep -h "episode done" "$RESULTS"/ns3_*.log | head -5 | grep -q .'
all_workers_ran() {
  local n
  for n in $(seq 1 "$WORKERS"); do grep -q "episode done" "$RESULTS/ns3_$n.log" || return 1; done
}
check "every ns-3 worker (${WORKERS}) completed an episode" all_workers_ran
summary="$(ls "$RESULTS"/*/summary.json 2>/dev/null | head -1 || true)"
check "agent server wrote results" '[ -n "$summary" ] && [ -s "$summary" ]'
if [ -n "$summary" ]; then
  check "results: backend ns3, ran ${EXPECT_RAN}, ${EPISODES} episodes, KPIs present" \
    "python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s[\"backend\"]==\"ns3\" and s.get(\"ran\")==\"$EXPECT_RAN\" and s[\"episodes\"]>=$EPISODES and \"xr_index\" in s[\"kpis\"], s' '$summary'"
  echo "--- $summary"; python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=1)[:1500])" "$summary"
fi
grep -h "episode done" "$RESULTS"/ns3_*.log | head -10 || true
echo "results: $RESULTS"

# ------------------------------------------------------------------ 7. the sweep profile
if [ "${SWEEP_CHECK:-1}" = 1 ]; then
  say "sweep profile: rings 200,300,400 x aps, 1 seed, 1 episode per cell, ns-3 in the container"
  # podman-compose 1.0 `run` would also start every other service: --no-deps
  sweep_start=$(date +%s)
  set +e
  RINGS=200,300,400 POLICIES=aps SEEDS=1 SWEEP_EPISODES=1 WORKERS=1 \
    timeout "$TIMEOUT_S" "${compose[@]}" run --no-deps --rm -T sweep > "$RESULTS/sweep.log" 2>&1
  src=$?
  set -e
  echo "sweep exited with $src after $(( $(date +%s) - sweep_start )) s"
  grep -vE '^(\*\*|podman |using podman|podman-compose|exit code|\[|time=)' "$RESULTS/sweep.log" | tail -12 || true
  check "sweep exited 0" '[ "$src" -eq 0 ]'
  check "sweep wrote results.csv with rings 200, 300, 400 on ns3" \
    "python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); rings={float(x[\"ring_m\"]) for x in r}; assert rings=={200.0,300.0,400.0} and {x[\"backend\"] for x in r}=={\"ns3\"}, (rings, len(r))' '$RESULTS/sweep/results.csv'"
  check "sweep wrote the HTML report" '[ -s "$RESULTS/sweep/report.html" ]'
fi
[ "$fails" -eq 0 ] || die "$fails check(s) failed"
say "container test passed"
