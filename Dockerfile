# xr-codec-marl: ns-3 (from the `ns3` PyPI package, or your own ns-3 tree), the compiled
# scenarios and the Python package in one image. See docs/deploy.md.
#
#   docker build -t xr-codec-marl .
#
# Build arguments (all optional):
#   BASE_IMAGE       a Debian bookworm image; python3 + venv come from Debian if it has no Python
#                    (default python:3.11-slim-bookworm)
#   TORCH_SPEC       pip spec for PyTorch                        (default torch==2.13.0)
#   TORCH_INDEX_URL  index for TORCH_SPEC: PyTorch's CPU wheels  (default https://download.pytorch.org/whl/cpu;
#                    empty: PyPI, whose Linux torch pulls the CUDA packages)
#   TORCH_WHEEL_DIR  a build-context directory; a torch-*.whl in it is installed instead of
#                    TORCH_SPEC (offline builds)              (default docker/wheels, empty)
#   NR_VENDOR        a build-context directory with the 5G-LENA nr source: a release tarball
#                    5g-lena-nr-*.tar.gz or a checkout nr/ (default vendor, see vendor/README.md);
#                    with it the image runs NR by default (LTE with --ran lte), without it LTE
#   NS3_SOURCE       a build-context directory holding your ns-3 tree (e.g. ns-3-dev, with or
#                    without 5G-LENA in contrib/nr), built or not; the scenarios are compiled
#                    against it instead of the PyPI ns-3 (default docker/ns3-source-none: PyPI)
#   NS3_BUILD_JOBS   parallel compile jobs                       (default: all cores)
#   NS3_BUILD_PKGS, NS3_RUNTIME_PKGS  extra Debian packages your ns-3 tree needs to build / run
#                    (e.g. "libsqlite3-dev libeigen3-dev" / "libsqlite3-0")
#   XRMARL_UID       uid of the image's non-root user            (default 10001)

ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------- python
# A virtualenv on whichever Python the base has (python:*-slim: /usr/local; Debian: python3).
FROM ${BASE_IMAGE} AS python
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/xr-codec-marl/bin:/opt/venv/bin:$PATH
# hadolint ignore=DL3008
RUN if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv \
    && python -c 'import sys; assert sys.version_info >= (3, 11), sys.version'

# ---------------------------------------------------------------------------- deps
# Third-party Python packages only (cached until pyproject.toml changes): torch first, the
# rest from pyproject's dependency list.
FROM python AS deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_WHEEL_DIR=docker/wheels
# Extra CA certificates for pip behind a TLS-intercepting proxy (build stages only; see
# docker/certs/README.md). Empty by default.
COPY docker/certs/ /tmp/extra-certs/
RUN if find /tmp/extra-certs -maxdepth 1 -name '*.crt' -o -maxdepth 1 -name '*.pem' | grep -q .; then \
        cat "$(python -c 'from pip._vendor import certifi; print(certifi.where())')" \
            /tmp/extra-certs/*.crt /tmp/extra-certs/*.pem > /etc/pip-ca.pem 2>/dev/null; \
        printf '[global]\ncert = /etc/pip-ca.pem\n' > /etc/pip.conf; \
        echo "pip: $(grep -c 'BEGIN CERT' /etc/pip-ca.pem) CA certificates"; \
    fi
COPY ${TORCH_WHEEL_DIR}/ /tmp/torch-wheels/
# hadolint ignore=DL3013
RUN whl="$(find /tmp/torch-wheels -maxdepth 1 -name 'torch-*.whl' | sort -V | tail -n 1)"; \
    if [ -n "$whl" ]; then pip install "$whl"; \
    elif [ -n "${TORCH_INDEX_URL}" ]; then pip install --index-url "${TORCH_INDEX_URL}" "${TORCH_SPEC}"; \
    else pip install "${TORCH_SPEC}"; fi \
    && python -c 'import torch; print("torch", torch.__version__)'
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# ---------------------------------------------------------------------------- build
# Compiles the C++ scenarios against ns-3 and builds the package wheel.
FROM deps AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG NS3_BUILD_PKGS=
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ cmake make pkg-config \
       libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler ${NS3_BUILD_PKGS} \
    && rm -rf /var/lib/apt/lists/*
# ns-3 from PyPI, without its Python bindings' dependency (cppyy): the scenarios only link its
# C++ libraries. Installed beside the venv so that only the libraries reach the final image.
COPY pyproject.toml /tmp/pyproject.toml
# hadolint ignore=DL3013
RUN spec="$(python -c 'import tomllib; print(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["optional-dependencies"]["ns3"][0])')" \
    && pip install --no-deps --target /opt/ns3-pypi "$spec"
# Your own ns-3 tree (optional): copied from the build context, built here if it is not yet.
ARG NS3_SOURCE=docker/ns3-source-none
ARG NS3_BUILD_JOBS=
COPY ${NS3_SOURCE}/ /opt/ns3-source/
# hadolint ignore=DL3003
RUN jobs="${NS3_BUILD_JOBS:-$(nproc)}"; \
    if [ -x /opt/ns3-source/ns3 ] && ! ls /opt/ns3-source/build/lib/libns3*-core*.so >/dev/null 2>&1; then \
        cd /opt/ns3-source \
        && ./ns3 configure -d release \
        && ./ns3 build -j "$jobs"; \
    fi \
    && root=/opt/ns3-pypi/ns3 \
    && if [ -f /opt/ns3-source/ns3 ] || [ -d /opt/ns3-source/include ] || [ -d /opt/ns3-source/build ]; then \
        root=/opt/ns3-source; fi \
    && echo "$root" > /opt/ns3-root
# 5G-LENA nr (optional; the slowest layer): built once against that ns-3 into the nr cache,
# rebuilt only when the nr source or the nr build recipe changes.
ARG NR_VENDOR=vendor
COPY ${NR_VENDOR}/ /opt/nr-vendor/
COPY ns3_scenarios/CMakeLists.txt /src/ns3_scenarios/CMakeLists.txt
COPY ns3_scenarios/cmake/ /src/ns3_scenarios/cmake/
COPY ns3_scenarios/nr/ /src/ns3_scenarios/nr/
COPY xr_codec_marl/__init__.py /src/xr_codec_marl/__init__.py
COPY xr_codec_marl/bridge/__init__.py xr_codec_marl/bridge/build.py xr_codec_marl/bridge/nr_build.py \
     /src/xr_codec_marl/bridge/
ENV XRMARL_NS3_SOURCE=/src/ns3_scenarios \
    XRMARL_NR_CACHE=/opt/nr-cache
WORKDIR /src
RUN src="$(find /opt/nr-vendor -maxdepth 1 -name '5g-lena-nr-*.tar.gz' | sort | tail -n 1)"; \
    if [ -z "$src" ] && [ -d /opt/nr-vendor/nr/model ]; then src=/opt/nr-vendor/nr; fi; \
    echo "$src" > /opt/nr-source; \
    if [ -n "$src" ]; then \
        echo "xr-codec-marl: building 5G-LENA nr from $src" \
        && python -c 'import sys; from xr_codec_marl.bridge import nr_build as n; s = n.resolve_source(sys.argv[1], ns3_root=sys.argv[2]); n.build_nr(s, jobs=int(sys.argv[3]), ns3_root=sys.argv[2], quiet=False)' \
           "$src" "$(cat /opt/ns3-root)" "${NS3_BUILD_JOBS:-$(nproc)}"; \
    else echo "xr-codec-marl: no nr source in NR_VENDOR: the scenarios run LTE only"; fi
COPY proto/ /src/proto/
COPY ns3_scenarios/ /src/ns3_scenarios/
COPY xr_codec_marl/ /src/xr_codec_marl/
# the scenarios on ns-3 (+ nr from the cache above: no recompiling), by `xr-marl build-ns3`
RUN set -- --build-dir /opt/xr-codec-marl/build --ns3-root "$(cat /opt/ns3-root)" \
        --jobs "${NS3_BUILD_JOBS:-$(nproc)}"; \
    if [ -s /opt/nr-source ]; then set -- "$@" --nr-source "$(cat /opt/nr-source)"; \
    else set -- "$@" --lte-only; fi; \
    python -m xr_codec_marl.cli build-ns3 "$@" \
    && mkdir -p /opt/xr-codec-marl/bin \
    && bins="$(python -c 'from xr_codec_marl.bridge.build import binaries; print(*binaries())')" \
    && for b in $bins; do cp "/opt/xr-codec-marl/build/$b" /opt/xr-codec-marl/bin/ || exit 1; done \
    && cp /opt/xr-codec-marl/build/xrmarl-build.json /opt/xr-codec-marl/bin/ \
    && ldd /opt/xr-codec-marl/bin/xr-codec | awk '$3 ~ /^\/opt\// {print $3}' \
       | while read -r lib; do mkdir -p "/opt/ns3-runtime$(dirname "$lib")" && cp -L "$lib" "/opt/ns3-runtime$lib"; done \
    && echo "ns-3 runtime libraries: $(find /opt/ns3-runtime -name '*.so*' | wc -l)" \
    && ! ldd /opt/xr-codec-marl/bin/xr-codec | grep 'not found'
COPY pyproject.toml README.md /src/
COPY xr_codec_marl/ /src/xr_codec_marl/
RUN pip wheel --no-deps --wheel-dir /tmp/dist /src

# ---------------------------------------------------------------------------- runtime
FROM python AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG NS3_RUNTIME_PKGS=
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzmq5 libprotobuf32 ${NS3_RUNTIME_PKGS} \
    && rm -rf /var/lib/apt/lists/*
ARG XRMARL_UID=10001
RUN groupadd --gid "${XRMARL_UID}" xrmarl \
    && useradd --uid "${XRMARL_UID}" --gid xrmarl --create-home --shell /bin/bash xrmarl \
    && mkdir -p /results && chown xrmarl:xrmarl /results
# largest and least often changed first
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/ns3-runtime/ /
COPY --from=build /opt/xr-codec-marl/bin/ /opt/xr-codec-marl/bin/
COPY --from=build /tmp/dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist \
    && if ldd /opt/xr-codec-marl/bin/xr-codec | grep 'not found'; then \
         echo "xr-codec misses shared libraries at run time: add their Debian packages to NS3_RUNTIME_PKGS" >&2; exit 1; \
       fi
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/xrmarl-entrypoint
COPY --chmod=0755 docker/ns3-worker.sh /usr/local/bin/xrmarl-ns3-worker
COPY --chmod=0755 docker/healthcheck.py /usr/local/bin/xrmarl-healthcheck
ENV XRMARL_RESULTS=/results \
    XRMARL_NS3_BUILD=/opt/xr-codec-marl/bin \
    MPLCONFIGDIR=/tmp/matplotlib \
    AGENT_PORT=5555
USER ${XRMARL_UID}:${XRMARL_UID}
WORKDIR /home/xrmarl
VOLUME ["/results"]
EXPOSE 5555
# The agent server's port accepts TCP connections (a bare connect; no protocol message is sent,
# so running episodes are not disturbed). Only meaningful for the `agents` role.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["xrmarl-healthcheck"]
ENTRYPOINT ["xrmarl-entrypoint"]
CMD ["agents"]
