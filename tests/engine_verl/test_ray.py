"""The Ray path: submit.sh against a local loopback Ray head, up to the point verl needs a GPU (docs/cluster.md).

On a CPU-only head the job must reach verl (registries and config checked in the job) and end with one clear
error and a non-zero status -- not wait forever for GPUs, as a bare ``main_ppo`` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(420)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    """Yields the dashboard address of a loopback Ray head with 2 CPUs and no GPU; stops only what it started."""
    bindir = Path(sys.executable).parent
    if not (bindir / "ray").exists():
        pytest.fail("ray is not installed in this environment (make verl-env)")
    tmp = tempfile.mkdtemp(prefix="rwb", dir="/tmp")  # short: Ray's socket paths have a length limit
    gcs, dash, client = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}", "RAY_USAGE_STATS_ENABLED": "0",
           # absolute: the job runs in Ray's copy of the run directory
           "PYTHONPATH": os.pathsep.join(str(Path(x).resolve()) for x in os.environ.get("PYTHONPATH", "").split(
               os.pathsep) if x)}  # fmt: skip
    cmd = [str(bindir / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
           "--dashboard-host", "127.0.0.1", "--num-cpus", "2", "--num-gpus", "0", "--port", str(gcs),
           "--dashboard-port", str(dash), "--ray-client-server-port", str(client), "--temp-dir", tmp,
           "--include-dashboard", "true", "--disable-usage-stats"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ray start exited: {proc.stdout.read()[-3000:]}")
            ok = subprocess.run([str(bindir / "ray"), "job", "list", "--address", address], env=env,
                                capture_output=True, text=True, timeout=60).returncode == 0  # fmt: skip
            if ok:
                break
            time.sleep(2)
        else:
            pytest.fail("the Ray head's job server did not come up in 180 s")
        yield address, env
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def test_submit_on_a_cpu_only_head_ends_with_a_clear_error(ray_head, exported):
    address, env = ray_head
    run_dir, _ = exported("nsr", n_gpus_per_node=1, micro_batch_size_per_gpu=1)
    t0 = time.time()
    proc = subprocess.run(["bash", str(run_dir / "submit.sh")], cwd=run_dir, env={**env, "RAY_ADDRESS": address},
                          capture_output=True, text=True, timeout=360)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    # the job ran on the head, reached verl (registries + config composed) and stopped at the accelerator check
    assert "verl config composed (44 overrides); workbook_nsr and workbook_ppo_clip registered" in out, out[-3000:]
    assert "this verl run needs 1 cuda device(s)" in out and "has 0" in out and "no CPU training path" in out
    assert time.time() - t0 < 300


def test_run_local_on_a_cpu_machine_ends_with_a_clear_error(exported):
    run_dir, _ = exported("grpo", n_gpus_per_node=2)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(run_dir / "run_local.sh")], cwd=run_dir, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "needs 2 cuda device(s)" in proc.stderr and "this machine" in proc.stderr
