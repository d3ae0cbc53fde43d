# xr-codec-marl — the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
# CPU build of PyTorch; override e.g. TORCH_SPEC="torch" on a machine with a GPU.
TORCH_SPEC ?= torch==2.13.0
STAMP := .make-stamps

.PHONY: demo test install system-deps ns3 bench bench-long proto clean

$(STAMP):
	mkdir -p $(STAMP)

$(STAMP)/python: pyproject.toml | $(STAMP)
	$(PYTHON) -m pip install -q "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -q -e ".[test,ns3]"
	touch $@

install: $(STAMP)/python

system-deps:
	bash scripts/install-system-deps.sh

ns3: install system-deps
	xr-marl build-ns3

# The main job: train MHA-DQMIX briefly at each ring, compare it with APS, explain it.
DEMO_OUT ?= out/demo
DEMO_STEPS ?= 20000
DEMO_SET := --set grad_steps_per_rollout=4 --set epsilon_anneal_steps=4000 --set lr=1e-3
demo: install
	xr-marl sweep --rings 200,300,400 --policies aps,mha-dqmix --seeds 1 --episodes 32 \
	  --train-steps $(DEMO_STEPS) $(DEMO_SET) --jobs 2 --out $(DEMO_OUT)
	xr-marl explain --reference aps --rings 200,300,400 --episodes 2 --out $(DEMO_OUT)/explain \
	  --kpi-table $(DEMO_OUT)/results.csv \
	  $(foreach r,200 300 400,--checkpoint $(DEMO_OUT)/runs/ring$(r)/mha-dqmix/seed0@$(r))
	@echo "sweep report:       $(abspath $(DEMO_OUT))/report.html"
	@echo "explanation report: $(abspath $(DEMO_OUT))/explain/report.html"

test: install system-deps ns3
	$(PYTHON) -m pytest -q

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
	rm -rf $(STAMP) build .pytest_cache
