# Plain entry points. Each target creates the virtual environment it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install demo playground test lint typecheck contracts unit chart-check bench chaos fmt clean cluster-bins test-bins fuzz fuzz-short image image-test image-bins workflow-lint test-image release-dry-run node-bins node-test

help:
	@echo "make demo        run the end-to-end demo on the embedded emulators (no cluster, no AWS)"
	@echo "make test        run linters, type checks, import contracts, chart checks and all tests"
	@echo "make playground  run a local Kubernetes API + ACM emulator + operator until Ctrl-C"
	@echo "make bench       print the benchmark figures"
	@echo "make fuzz        fuzz every parser of untrusted input, FUZZ_SECONDS (300) each, corpus"
	@echo "                 kept in .fuzz/; prints executions and the slowest input per parser"
	@echo "make chaos       the chaos suite: kill -9, paused leaders, injected faults, then an"
	@echo "                 audit (SEEDS=3 N=30 by default; the long run: SEEDS=100 N=200)"
	@echo "make cluster-bins build etcd, kube-apiserver, kube-controller-manager, cert-manager,"
	@echo "                 helm and promtool from pinned Go modules (the real-cluster test bed)"
	@echo "make image       build the Dockerfile into build/acm-sync-image.tar without Docker"
	@echo "                 (BuildKit, runc and a loopback registry from pinned Go modules)"
	@echo "make image-test  check that image: user, entrypoint, labels, contents, size, and"
	@echo "                 \`acm-sync check\` in it under runc (read-only, no capabilities)"
	@echo "make node-test   the image and the chart under a real kubelet (root; part of make test)"
	@echo "make release-dry-run  every step of the tag release (.github/workflows/release.yml) that"
	@echo "                 needs no registry credential, against a registry on 127.0.0.1"

# Runtime dependencies are constrained to requirements.lock (and setuptools to
# build-requirements.lock), so the tests run against exactly what the container image ships.
# The locks carry hashes, and pip turns a hash in a constraints file into hash-checking of the
# whole install, which the editable, unpinned dev install cannot pass: pip gets the same pins
# without hashes, derived from the locks into the venv. The operator and its test bed
# (testbed/, a distribution of its own) go in one pip call: the dev extra names
# acm-sync-testbed, which must resolve to ./testbed, never to a package index.
LOCKS := requirements.lock build-requirements.lock
$(STAMP): pyproject.toml testbed/pyproject.toml $(LOCKS) tests/chart/requirements_lock.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "acm-sync needs Python 3.11+; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python tests/chart/requirements_lock.py constraints $(LOCKS) > $(VENV)/constraints.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(VENV)/constraints.txt -e '.[dev]' -e ./testbed
	@touch $(STAMP) $(DEMO_STAMP)

install: $(STAMP)

# The demo and the playground run the operator and its test bed, nothing else: from a fresh
# clone they install only those (the same pins, without the dev extra's linters and type
# checkers), into the same venv, so that a later make test adds the dev extra to it and a make
# demo after make test (whose install covers this one and stamps it) installs nothing. uv,
# pinned and bootstrapped into .uv/ with the interpreter's pip, does it: its parallel downloads
# and no bytecode compilation take a fresh clone's install from over a minute to seconds.
# Without pip outside a venv, the venv's own pip does it (slower, same result).
UV_VERSION := 0.13.10
UV := .uv/bin/uv
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml testbed/pyproject.toml $(LOCKS) tests/chart/requirements_lock.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "acm-sync needs Python 3.11+; run: make PYTHON=python3.11 ...")'
	@if [ ! -x $(UV) ] && $(PYTHON) -m pip --version >/dev/null 2>&1; then \
	  PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --no-compile \
	    --disable-pip-version-check --target .uv 'uv==$(UV_VERSION)' || rm -rf .uv; fi
	@set -e; if [ -x $(UV) ]; then set -x; \
	  [ -x $(BIN)/python ] || $(UV) venv --quiet --python $(PYTHON) $(VENV); \
	  $(BIN)/python tests/chart/requirements_lock.py constraints $(LOCKS) > $(VENV)/constraints.txt; \
	  $(UV) pip install --quiet --python $(BIN)/python -c $(VENV)/constraints.txt -e . -e ./testbed; \
	else set -x; \
	  $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python tests/chart/requirements_lock.py constraints $(LOCKS) > $(VENV)/constraints.txt; \
	  $(BIN)/pip install --quiet --no-compile -c $(VENV)/constraints.txt -e . -e ./testbed; \
	fi
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/acm-sync demo

playground: $(DEMO_STAMP)
	$(BIN)/acm-sync playground

lint: $(STAMP)
	$(BIN)/ruff check operator testbed/acm_sync_testbed tests bench fuzz
	$(BIN)/ruff format --check operator testbed/acm_sync_testbed tests bench fuzz

# One strict run (pyproject's [tool.mypy] lists the files): both packages (acm_sync,
# acm_sync_testbed), the tests package, bench/, fuzz/ and examples/generate.py.
typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# The real programs the operator meets in production, built from testbed/cluster/'s pinned Go
# modules into a cache outside the checkout (reused while the pins are unchanged). The folder
# holding them is the last line printed.
cluster-bins:
	testbed/cluster/build.sh

# A real node for the test bed (backend real-node, tests/cluster_backends.py): kubelet
# and kube-scheduler (the same Kubernetes version as kube-apiserver), containerd, runc, the CNI
# plugins and the pause program, from testbed/node/'s pinned modules into a cache of its own.
node-bins:
	testbed/node/build.sh

# Pods on the real node (tests/realcluster/test_node_*.py): the image and the chart run under a
# real kubelet (two replicas, failover, upgrade, uninstall, metrics through the Service); root.
# Part of make test (test-image). After the control plane's build its cold build takes about 3
# minutes: the kubelet's packages come mostly from the Go build cache kube-apiserver filled.
node-test: $(STAMP) node-bins image
	ACM_SYNC_TEST_BACKENDS=real-node ACM_SYNC_CLUSTER_BIN_DIR=$$(testbed/cluster/build.sh | tail -n 1) \
	  $(BIN)/pytest -m real_node tests/realcluster

# The operator's image, from the Dockerfile as users build it, with no Docker engine: see
# testbed/image/make-image.sh. Cached (tools, base layer, BuildKit's layers); needs Go,
# debootstrap and libseccomp-dev, and root (runc, mount namespaces).
image:
	testbed/image/make-image.sh

# The image tools and actionlint (testbed/image/build.sh), built wherever Go and
# libseccomp-dev are (reused when cached). As with test-bins: without them they are left out
# locally, and in CI (CI=true) that is a failure. Writes .image-bins, a link to the folder.
image-bins:
	@out=$$(testbed/image/build.sh); rc=$$?; \
	if [ $$rc -eq 0 ]; then ln -sfn "$$(printf '%s\n' "$$out" | tail -n 1)" .image-bins; \
	elif [ $$rc -ne 3 ] || [ "$$CI" = true ]; then exit $$rc; \
	else rm -f .image-bins; echo "image tools: not built here (no Go or libseccomp-dev); no workflow lint, no image"; fi

# The GitHub workflows, by actionlint (with shellcheck on their run: scripts where it is
# installed; .ci/run installs it in CI, where it is required).
workflow-lint: image-bins
	@if [ ! -x .image-bins/actionlint ]; then echo "workflow lint: skipped (no actionlint built here)"; exit 0; fi; \
	if ! command -v shellcheck >/dev/null; then \
	  if [ "$$CI" = true ]; then echo "workflow lint: FAILED: no shellcheck under CI=true" >&2; exit 1; fi; \
	  echo "workflow lint: shellcheck not installed; run: scripts not checked"; fi; \
	.image-bins/actionlint -no-color .github/workflows/*.yml && echo "workflow lint: actionlint $$(.image-bins/actionlint -version | head -n 1) clean"

# make test's image step, where this machine can build the image: `make image-test` (the image
# built and checked), `make release-dry-run` (about 30 s more on a built image) and `make
# node-test` (the chart's Pods under a real kubelet, about 2 minutes once built). Without root,
# Go, debootstrap or libseccomp-dev it says which is missing and is left out locally; in CI
# (CI=true) that is a failure.
test-image: image-bins
	@why=; [ "$$(id -u)" = 0 ] || why="$$why, not root"; \
	command -v go >/dev/null || why="$$why, no Go"; \
	command -v debootstrap >/dev/null || why="$$why, no debootstrap"; \
	[ -e /usr/include/seccomp.h ] || why="$$why, no libseccomp-dev"; \
	if [ -n "$$why" ]; then \
	  if [ "$$CI" = true ]; then echo "image: FAILED: cannot build the image under CI=true ($${why#, })" >&2; exit 1; fi; \
	  echo "image: not built here ($${why#, }); make image needs root, Go, debootstrap, libseccomp-dev"; \
	else $(MAKE) --no-print-directory image-test release-dry-run node-test; fi

# Checks on that image (tests/image/check_image.py: not a test_*.py file, so the default pytest
# run never collects it; marked `image`). Root: it runs the image under runc.
image-test: $(STAMP) image
	ACM_SYNC_IMAGE_BINS_DIR=$$(testbed/image/build.sh 2>/dev/null | tail -n 1) \
	  $(BIN)/pytest -m image -o python_files='check_*.py' tests/image

# The real-cluster programs for the tests, built wherever Go is (reused when cached). Without
# Go they are left out locally (the chart checks use helm-sdkpy, pytest the emulator only); in
# CI (CI=true) that is a failure. Writes .cluster-bins, which chart-check and unit read.
test-bins:
	@testbed/cluster/build.sh >/dev/null || { rc=$$?; \
	  if [ $$rc -ne 3 ] || [ "$$CI" = true ]; then exit $$rc; fi; \
	  rm -f .cluster-bins; echo "real cluster: not built here (no Go); the emulator only"; }

# pytest on every cluster backend this machine has (tests/cluster_backends.py): the emulator,
# and the real cluster when test-bins built it. ACM_SYNC_TEST_BACKENDS set by the caller wins
# (e.g. "kubeconfig" with ACM_SYNC_TEST_KUBECONFIG for any cluster).
unit: $(STAMP) test-bins
	@if [ -z "$$ACM_SYNC_TEST_BACKENDS" ] && [ -x .cluster-bins/kube-apiserver ]; then \
	  export ACM_SYNC_TEST_BACKENDS=emulator,real ACM_SYNC_CLUSTER_BIN_DIR=$$(readlink -f .cluster-bins); \
	fi; \
	$(BIN)/pytest

chart-check: $(STAMP) test-bins
	.ci/chart-check

test: lint typecheck contracts workflow-lint chart-check fuzz-short unit test-image

# Every step of the tag release that needs no registry credential (release/dry-run.sh): the
# image, pushed to a registry on 127.0.0.1; the chart pinned to its digest, linted, pushed,
# pulled back and rendered; what a release would push where. Root, like make image.
release-dry-run: cluster-bins image-bins
	release/dry-run.sh

# The parsers of untrusted input (fuzz/, atheris): no exception but the documented ones, no
# input over a second. make test runs each target a few seconds (about 40 s in all); make fuzz
# runs the long one and keeps the corpus it grew.
FUZZ_SHORT_SECONDS ?= 5
FUZZ_SECONDS ?= 300
fuzz-short: $(STAMP)
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SHORT_SECONDS)

fuzz: $(STAMP)
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS) --corpus .fuzz

# Seeded and bounded (tests/chaos/chaos.py); a short run of it is part of the tests.
SEEDS ?= 3
N ?= 30
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.chaos --seeds $(SEEDS) --n $(N)

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

fmt: $(STAMP)
	$(BIN)/ruff format operator testbed/acm_sync_testbed tests bench fuzz
	$(BIN)/ruff check --fix operator testbed/acm_sync_testbed tests bench fuzz

clean:
	rm -rf $(VENV) .venv-chart .uv .fuzz .mypy_cache .pytest_cache .ruff_cache build *.egg-info operator/*.egg-info \
		testbed/build testbed/*.egg-info .image-bins
