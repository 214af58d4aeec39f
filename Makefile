# dglnb: `make book` renders the book, `make test` checks every number.
# Parameters passed through to the notebooks: PROFILE (quick|full), DATA_ROOT, DEVICE.
# JOBS chapters run at a time, each on THREADS torch threads: on a small CPU two one-thread
# processes train twice as fast as one two-thread process (chapters share runs through the run
# cache, which locks a run while one process trains it).
PROFILE ?= quick
JOBS ?= 2
THREADS ?= 1
DATA_ROOT ?=
DEVICE ?=
# The CPU toolchain, every version pinned with its hashes (README: how to update it). CPU machines
# install all of it, torch's CPU wheel included; GPU users install their CUDA torch into .venv first
# and set TORCH=, which keeps it and takes every other version from GPU_CONSTRAINTS (the lock's pins
# without torch, without hashes).
LOCK := requirements/cpu.lock
GPU_CONSTRAINTS := requirements/gpu-constraints.txt
TORCH ?= locked
PIP_TOOLS := pip-tools==7.6.2
MATHJAX_VERSION := 3.2.2
# The browser check drives Debian's chromium through Playwright; Playwright never downloads a browser.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

PY := .venv/bin/python
# Longest chapters first, so that the two lanes end together: 07 (segmentation, the most runs) and
# 04 (its seven methods, the longest chain of runs no other chapter shares) side by side, then 06
# (three modalities) and 03; then the rest in order.
FIRST := $(patsubst %,notebooks/%.ipynb,07_segmentation 04_comparison 06_three_modalities \
	03_gradient_reorganizing)
NOTEBOOKS := $(FIRST) $(filter-out $(FIRST),$(sort $(wildcard notebooks/*.ipynb)))
EXECUTED := build/notebooks
MATHJAX := build/mathjax/mathjax/tex-mml-chtml.js
PARAMS := -p profile $(PROFILE) $(if $(DATA_ROOT),-p data_root $(DATA_ROOT)) $(if $(DEVICE),-p device $(DEVICE))
# $(PAPERMILL) OUTDIR ARGS...: papermill every notebook into OUTDIR, JOBS at a time; fails if any chapter fails.
NBENV = OMP_NUM_THREADS=$(THREADS)
PAPERMILL = printf '%s\n' $(NOTEBOOKS) | env $(NBENV) xargs -P $(JOBS) -I{} \
	sh -c '$(PY) -m papermill --no-progress-bar --log-level WARNING {} "$$0/$$(basename {})" "$$@"'
# An x86-64 CPU with AVX2 but no AVX-512, emulated on any newer one: oneDNN (convolutions) and MKL
# (matrix products) capped at AVX2; ATen's own kernels are chosen beside it (avx2, or default).
AVX2_CPU := ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
# The unit tests that exercise the CPU's kernels, run again on the emulated CPU: the training step and
# its fast settings, layouts, methods, models, routing, resume, the engine and the drop-in loss.
KERNEL_TESTS := $(patsubst %,tests/test_%.py,speed cpu_layout methods methods_alternating methods_balancing \
	models mmtm mixer segmentation routing resume engine dgl_loss_training)

# Wall-clock timings of make book and make test, printed at their end (success only: make stops at a
# failure). $(call clock_start,T) notes when target T started; $(call timed,T,LABEL,ARGS) runs
# $(MAKE) ARGS and notes its seconds under LABEL; $(call clock_end,T) prints each noted step, then
# "make T: N s (wall), from START to END".
TIMING := build/timing
clock_start = mkdir -p $(TIMING) && date '+%s %F %T' > $(TIMING)/$(1) && : > $(TIMING)/$(1).steps
timed = t0=$$(date +%s) && $(MAKE) $(3) && echo "  $(2): $$(( $$(date +%s) - t0 )) s" >> $(TIMING)/$(1).steps
clock_end = read t0 day hour < $(TIMING)/$(1) && cat $(TIMING)/$(1).steps && \
	echo "make $(1): $$(( $$(date +%s) - t0 )) s (wall), from $$day $$hour to $$(date '+%F %T')"

.PHONY: book html test unit unit-avx2 install-check rehearsal nbval nbval-portable browser-check chromium golden lock \
	lint reproduce clean

book:
	@$(call clock_start,book)
	$(MAKE) -j2 .venv $(MATHJAX)
	rm -rf $(EXECUTED) && mkdir -p $(EXECUTED)
	t0=$$(date +%s) && $(PAPERMILL) $(EXECUTED) $(PARAMS) -k python3 --cwd $(EXECUTED) && \
	  echo "  notebooks: $$(( $$(date +%s) - t0 )) s" >> $(TIMING)/book.steps
	$(PY) tools/hide_parameters.py $(EXECUTED)/*.ipynb
	$(call timed,book,html,html)
	@$(call clock_end,book)

# Strict HTML build of whatever sits in $(EXECUTED); warnings are errors.
html: .venv $(MATHJAX)
	rm -rf _build/html
	.venv/bin/jupyter-book build . -W -n --keep-going

# The lint first (seconds once .venv exists: a formatting slip fails fast), then the installs side
# by side (chromium before the unit tests, so that the browser check's tests run rather than skip),
# then the checks one after another.
test:
	@$(call clock_start,test)
	$(call timed,test,lint,lint)
	$(call timed,test,installs,-j3 chromium .venv $(MATHJAX))
	$(call timed,test,unit,unit)
	$(call timed,test,unit-avx2,unit-avx2)
	$(call timed,test,install-check,install-check)
	$(call timed,test,rehearsal,rehearsal)
	$(call timed,test,nbval-portable,nbval-portable)
	rm -rf $(EXECUTED) && mkdir -p $(EXECUTED) && cp $(NOTEBOOKS) $(EXECUTED)/
	$(call timed,test,html,html)
	$(call timed,test,browser-check,browser-check)
	@$(call clock_end,test)

# Every page of _build/html in headless Chromium: loads, math typeset, images load, no request
# leaves the machine, no console error; screenshots under build/screenshots/.
browser-check: .venv chromium
	$(PY) tools/book_check.py --html _build/html --screenshots build/screenshots

# Debian's chromium, installed when missing.
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

unit: .venv
	OMP_NUM_THREADS=$(THREADS) $(PY) -m pytest -q -n $(JOBS) --dist worksteal -m "not install and not rehearsal" tests

# ruff's lint and its formatter's check over the repository, notebooks included (pyproject.toml's
# [tool.ruff]; .pre-commit-config.yaml runs the same on each commit).
lint: .venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# pip install . without a checkout: the built wheel in a fresh venv trains and sweeps from another
# folder (tests/test_install.py; a minute or two, mostly installing the dependencies).
install-check: .venv
	OMP_NUM_THREADS=$(THREADS) $(PY) -m pytest -q -p no:xdist -m install tests

# KERNEL_TESTS on the emulated AVX2 CPU: a change that breaks such a CPU fails here on an AVX-512 one.
unit-avx2: .venv
	env $(AVX2_CPU) ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=$(THREADS) \
	  $(PY) -m pytest -q -n $(JOBS) --dist worksteal $(KERNEL_TESTS)

# make reproduce's plumbing, proved on every change: every chapter of notebooks/ through papermill in
# the full profile with smoke sizes, on fixture releases of every dataset the full profile reads,
# prepared by data_prep/ into one DATA_ROOT (tests/test_book_full_profile.py, JOBS chapters at a time).
rehearsal: .venv
	OMP_NUM_THREADS=$(THREADS) $(PY) -m pytest -q -n $(JOBS) --dist worksteal -m rehearsal tests/test_book_full_profile.py

# The committed notebooks carry the quick-profile outputs: nbval re-runs them and compares the
# cells tagged nbval-check-output (outputs exact by construction); hidden cells check trained
# numbers against notebooks/goldens/ within their seed spread (dglnb.checks). One pytest per
# chapter, JOBS at a time, in the order of NOTEBOOKS (the longest first).
nbval: .venv
	$(PY) tools/check_environment.py
	printf '%s\n' $(NOTEBOOKS) | env $(NBENV) xargs -P $(JOBS) -I{} \
	  $(PY) -m pytest -q -p no:xdist --nbval-lax --nbval-current-env --nbval-cell-timeout=3600 {}

# CI proves the goldens portable: torch on its portable (non-vectorised) CPU kernels, not this CPU's,
# and oneDNN and MKL on an AVX2 CPU's.
nbval-portable:
	env $(AVX2_CPU) ATEN_CPU_CAPABILITY=default $(MAKE) nbval

# Re-execute notebooks/ in place in the quick profile after an intended change and record the
# trained numbers' goldens (notebooks/goldens/*.json) and the lock they hold for (ENVIRONMENT.json,
# refused unless the installed versions are the lock's); commit them all.
golden: NBENV += DGLNB_RECORD_GOLDENS=1
golden: .venv
	$(PY) tools/check_environment.py --record
	$(PAPERMILL) notebooks -p profile quick -k python3 --cwd notebooks
	$(PY) tools/hide_parameters.py $(NOTEBOOKS)

# The paper's experiments on a GPU with the real data: make reproduce DATA_ROOT=/data
reproduce:
	$(MAKE) book PROFILE=full DEVICE=$(or $(DEVICE),cuda) JOBS=1 THREADS=$(shell nproc)

.venv: pyproject.toml $(LOCK)
	python3 -m venv .venv
	$(if $(TORCH),$(PY) -m pip install -q --require-hashes -r $(LOCK))
	$(PY) -m pip install -q $(if $(TORCH),--no-deps,-c $(GPU_CONSTRAINTS)) -e '.[book,test]'
	touch .venv

# Re-resolve the lock after a change to pyproject.toml's dependencies or requirements/cpu.in, keeping
# every pin that still fits (LOCK_UPGRADE=--upgrade moves all to their newest); then make golden.
lock:
	python3 -m venv build/lock-tools
	build/lock-tools/bin/pip install -q $(PIP_TOOLS)
	build/lock-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra book \
	  --extra test --no-emit-index-url --no-emit-find-links $(LOCK_UPGRADE) --output-file $(LOCK) \
	  pyproject.toml requirements/cpu.in
	{ echo '# The pins of requirements/cpu.lock but torch, for GPU users (README); written by make lock.'; \
	  awk '/^[A-Za-z0-9]/ && !/^torch==/ { print $$1 }' $(LOCK); } > $(GPU_CONSTRAINTS)

$(MATHJAX):
	rm -rf build/mathjax && mkdir -p build/mathjax/mathjax
	cd build/mathjax && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz
	cp -r build/mathjax/package/es5/. build/mathjax/mathjax/
	rm -rf build/mathjax/package build/mathjax/mathjax-$(MATHJAX_VERSION).tgz

clean:
	rm -rf _build build
