# xr-codec-marl — the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
# CPU build of PyTorch; override e.g. TORCH_SPEC="torch" on a machine with a GPU.
TORCH_SPEC ?= torch==2.13.0
STAMP := .make-stamps

.PHONY: demo test install system-deps ns3 bench clean

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

bench: install
	$(PYTHON) benchmarks/analytic_throughput.py
	$(PYTHON) benchmarks/baseline_kpis.py

clean:
	rm -rf $(STAMP) build .pytest_cache
