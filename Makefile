# xr-codec-marl — the README's two commands are `make demo` and `make test`.
# Everything runs in the project's own virtual environment (VENV), made from BASE_PYTHON, so a
# package installed by hand elsewhere can never hide a missing dependency.
BASE_PYTHON ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
XRMARL := $(VENV)/bin/xr-marl
# CPU build of PyTorch; override e.g. TORCH_SPEC="torch" on a machine with a GPU.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test install system-deps ns3 bench bench-long proto clean

$(PYTHON):
	$(BASE_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip

# The stamp lives inside the venv: a new venv is always installed afresh.
$(VENV)/.installed: pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -q "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -q -e ".[test,ns3]"
	$(PYTHON) -m xr_codec_marl.deps --check
	touch $@

install: $(VENV)/.installed

system-deps:
	bash scripts/install-system-deps.sh

# 5G-LENA nr source (no registry carries it): a release tarball or a checkout; the
# workplace's copy by default. Empty: build-ns3 looks at $$XRMARL_NR_SOURCE and vendor/.
NR_SOURCE ?= $(firstword $(wildcard ../shared/vendor/5g-lena-nr-v*.tar.gz))
ns3: install system-deps
	$(XRMARL) build-ns3 $(if $(NR_SOURCE),--nr-source $(NR_SOURCE))

# The main job: train MHA-DQMIX briefly at each ring, compare it with APS, explain it.
DEMO_OUT ?= out/demo
DEMO_STEPS ?= 20000
DEMO_SET := --set grad_steps_per_rollout=4 --set epsilon_anneal_steps=4000 --set lr=1e-3
demo: install
	$(XRMARL) sweep --rings 200,300,400 --policies aps,best-fixed,mha-dqmix --seeds 1 --episodes 32 \
	  --train-steps $(DEMO_STEPS) $(DEMO_SET) --jobs 2 --out $(DEMO_OUT)
	$(XRMARL) explain --reference aps --rings 200,300,400 --episodes 2 --out $(DEMO_OUT)/explain \
	  --kpi-table $(DEMO_OUT)/results.csv \
	  $(foreach r,200 300 400,--checkpoint $(DEMO_OUT)/runs/ring$(r)/mha-dqmix/seed0@$(r))
	@echo "sweep report:       $(abspath $(DEMO_OUT))/report.html"
	@echo "explanation report: $(abspath $(DEMO_OUT))/explain/report.html"

# With an nr source present, NR was built: its tests must run, not skip (XRMARL_REQUIRE_NR).
test: install system-deps ns3
	$(if $(NR_SOURCE),XRMARL_REQUIRE_NR=1 )$(PYTHON) -m pytest -q

# quick benchmarks (minutes); bench-long retrains the learners and recalibrates against ns-3
bench: install ns3
	$(PYTHON) benchmarks/analytic_throughput.py
	$(PYTHON) benchmarks/baseline_kpis.py
	$(PYTHON) benchmarks/bridge_overhead.py
	$(PYTHON) benchmarks/ns3_speed.py
	$(PYTHON) benchmarks/explain_overhead.py

bench-long: install ns3
	$(PYTHON) benchmarks/train_throughput.py
	$(PYTHON) benchmarks/learners_vs_aps.py --rings 400 --seeds 3 --jobs 2
	$(PYTHON) benchmarks/calibrate.py collect --episodes 10 --workers 2
	$(PYTHON) benchmarks/calibrate.py fit

# regenerate the committed Python protobuf code (pinned grpcio-tools)
proto: install
	$(PYTHON) proto/generate_python.py

clean:
	rm -rf $(VENV) build .pytest_cache
