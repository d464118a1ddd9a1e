#!/usr/bin/env bash
# Wheels the device machine's image lacks for benchmarks/device_check.py (it has JAX, flax,
# optax, numpy, scipy, pandas, pyarrow, pyyaml, tqdm): run HERE, in the repository root, with a
# pip that reaches PyPI; versions are this checkout's venv's. Then, on the device machine, carry
# `.whl` and start the command with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit;
#   timeout 380 python3 benchmarks/device_check.py
# (see /work/.library/device/README.md; the wheels count toward the 64 MiB a call carries:
# warp-lang, playground's largest need, is left out unless `--with-playground`).
set -euo pipefail
PY=${PY:-.venv/bin/python}
NAMES="pydantic pydantic_core annotated_types typing_inspection brax mujoco mujoco_mjx jaxopt
ml_collections trimesh tensorboardX Flask flask_cors glfw PyOpenGL websockets gymnasium
Farama_Notifications cloudpickle"
[[ "${1:-}" == "--with-playground" ]] && NAMES="$NAMES playground mediapy warp_lang"
exclude="$(git rev-parse --git-common-dir)/info/exclude"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo /.whl/ >> "$exclude"
for name in $NAMES; do
  pin=$("$PY" -m pip freeze 2>/dev/null | grep -i "^${name//_/[-_]}==" || true)
  [[ -n "$pin" ]] || { echo "not in the venv: $name" >&2; continue; }
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -d .whl "$pin"
done
du -sh .whl
