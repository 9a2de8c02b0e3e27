#!/usr/bin/env sh
# Install likewise with the benchmark peers, then run the benchmark suites.
#   benchmarks/run.sh                 # every suite, full size (refuses uncommitted code)
#   benchmarks/run.sh baselines --quick
# Arguments go to `python -m benchmarks.run` (see benchmarks/README.md).
set -e
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
# Surprise, implicit and pyspark (Spark MLlib ALS; needs Java 17) install with plain pip.
"$PYTHON" -m pip install -e '.[bench]'
# LightFM does not install with plain pip (see benchmarks/README.md); failure here is not fatal:
# the suites skip peers that do not import and say so in docs/benchmarks.md.
"$PYTHON" benchmarks/install_lightfm.py || echo "LightFM not installed: suites will skip it"
# LensKit pulls torch: install the CPU build first, or pip fetches the CUDA one from PyPI.
# TORCH_INDEX_URL overrides where it comes from (a local wheel in pip's find-links also works).
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install torch --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" \
        || echo "CPU torch not installed: LensKit will be skipped"
fi
if "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install 'lenskit>=2025.1' || echo "LensKit not installed: suites will skip it"
fi
exec "$PYTHON" -m benchmarks.run "$@"
