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

demo: install
	@for ring in 200 300 400; do \
	  for policy in aps max min random; do \
	    xr-marl evaluate --policy $$policy --ring $$ring --episodes 10 --seed 0 || exit 1; \
	  done; \
	done

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
