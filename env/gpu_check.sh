#!/usr/bin/env bash
# GPU readiness check: proves the `paper` path on one GPU, offline, in <= 8 minutes (docs/cluster.md, "GPU check").
#
#   env/gpu_check.sh --out results/gpu_check   # on a CUDA machine: every RL method at a paper-shaped batch in bf16
#                                              # with memory peaks, ours vs stock TRL step time, CUDA-vs-CPU
#                                              # generation, the papers' plans, vLLM
#   env/gpu_check.sh --cpu      # rehearsal here: the same steps on CPU (fp32, smoke toy, small batch), no vLLM
#
# Options (the rest go to env/gpu_check.py: --out DIR, --steps N, --ratio-reps N, --only a,b, --no-train):
#   --wheels DIR   carried wheels installed when `import trl` fails (default: .whl, else <carry>/whl)
#   --carry DIR    carried folder whose cache/ holds the toy checkpoints (default: .carry, else results/gpu_check/carry)
#   --site DIR     where the wheels are installed (default: /tmp/site)
#   --force-wheels install the wheels even when trl imports;  --install-only  stop after installing
# Nothing is fetched from the network. Output: --out, else $OUT, else results/gpu_check/: gpu_check.json + .md
# (gpu_check_cpu.* for the rehearsal), rewritten after every check. Exit 0 when every check passed or was skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

wheels="" carry="" site="/tmp/site" force=0 install_only=0 args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) wheels="$2"; shift 2 ;;
    --carry) carry="$2"; shift 2 ;;
    --site) site="$2"; shift 2 ;;
    --force-wheels) force=1; shift ;;
    --install-only) install_only=1; shift ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

if [ -n "${PYTHON:-}" ]; then py="$PYTHON"
elif [ -x .venv/bin/python ]; then py=.venv/bin/python
else py=python3; fi

if [ -z "$carry" ]; then
  if [ -d .carry ]; then carry=.carry; else carry=results/gpu_check/carry; fi
fi
if [ -z "$wheels" ]; then
  if compgen -G ".whl/*.whl" >/dev/null; then wheels=.whl; else wheels="$carry/whl"; fi
fi

export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

if [ "$force" = 1 ] || ! "$py" -c "import trl" >/dev/null 2>&1; then
  if ! compgen -G "$wheels/*.whl" >/dev/null; then
    echo "gpu_check: trl does not import and no wheels in $wheels (make gpu-carry)" >&2; exit 2
  fi
  echo "gpu_check: installing $(ls "$wheels"/*.whl | wc -l) carried wheels from $wheels into $site" >&2
  # GPU_CHECK_PIP_ARGS: extra pip flags (the test passes --python-version 3.12 --only-binary=:all: off 3.12)
  # shellcheck disable=SC2086
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade ${GPU_CHECK_PIP_ARGS:-} \
    --target "$site" "$wheels"/*.whl
  export PYTHONPATH="$site:$PYTHONPATH"
  "$py" -c "import trl, datasets, math_verify; print('gpu_check: trl', trl.__version__, 'datasets', datasets.__version__)" >&2
fi
[ "$install_only" = 1 ] && exit 0

if [ -z "${WORKBOOK_CACHE_DIR:-}" ] && [ -d "$carry/cache" ]; then
  WORKBOOK_CACHE_DIR="$(cd "$carry/cache" && pwd)"; export WORKBOOK_CACHE_DIR
  echo "gpu_check: toy checkpoints from $WORKBOOK_CACHE_DIR" >&2
fi

exec timeout --foreground "${GPU_CHECK_TIMEOUT_S:-480}" "$py" env/gpu_check.py "${args[@]}"
