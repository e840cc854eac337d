"""Builds the folder ``env/gpu_check.sh`` carries to a GPU machine without network (``make gpu-carry``).

``<carry>/cache/toy/<hash>/``: the toy checkpoints (``toy-reasoner-smoke`` is trained here if missing -- seconds;
``toy-reasoner`` only if already cached by ``make toy``, since it takes about an hour on CPU; without it the GPU
check runs on the smoke toy and says so). ``<carry>/whl/``: wheels a stock CUDA PyTorch image lacks, for its
CPython 3.12. Fails if the folder exceeds the 64 MiB a device run may carry.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

LIMIT_MIB = 64
WHEELS = ["trl==1.16.0", "datasets==5.2.0", "dill==0.4.0", "multiprocess==0.70.18", "math-verify==0.9.0",
          "latex2sympy2-extended==1.11.0", "antlr4-python3-runtime==4.13.2"]  # fmt: skip
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]


def _size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    """Returns 0 after writing the carry folder, 1 if it is over the limit."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="results/gpu_check/carry")
    ap.add_argument("--no-wheels", action="store_true", help="skip the wheel download (tests)")
    a = ap.parse_args(argv)
    from workbook.toy import RECIPES, model_dir
    from workbook.toy.train import recipe_dir, verify_checkpoint

    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "cache" / "toy").mkdir(parents=True)
    for name in ("toy-reasoner-smoke", "toy-reasoner"):
        problem = verify_checkpoint(recipe_dir(RECIPES[name]))
        if problem is not None and name != "toy-reasoner-smoke":
            print(f"gpu-carry: {name} is not cached ({problem}); not carried: run `make toy` first to carry it "
                  "(the GPU check then falls back to toy-reasoner-smoke)", file=sys.stderr)  # fmt: skip
            continue
        src = Path(model_dir(name))
        shutil.copytree(src, out / "cache" / "toy" / src.name)
        print(f"gpu-carry: {name} -> {out / 'cache' / 'toy' / src.name}")
    if not a.no_wheels:
        (out / "whl").mkdir()
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", *(f"--platform={p}" for p in PLATFORMS),
               "-d", str(out / "whl"), *WHEELS]  # fmt: skip
        subprocess.run(cmd, check=True)
    size = _size_mib(out)
    print(f"gpu-carry: {out} holds {size:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if size > LIMIT_MIB:
        print(f"gpu-carry: ERROR: {out} is {size:.1f} MiB, over the {LIMIT_MIB} MiB a device run carries",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
