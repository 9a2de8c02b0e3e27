#!/usr/bin/env sh
# Install likewise with the benchmark peers, then run the benchmark suites.
#   benchmarks/run.sh                 # every suite, full size
#   benchmarks/run.sh baselines --quick
# Arguments go to `python -m benchmarks.run` (see benchmarks/README.md).
set -e
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" -m pip install -e '.[bench]'
# LightFM does not install with plain pip (see benchmarks/README.md); failure here is not fatal:
# the suites skip peers that do not import and say so in docs/benchmarks.md.
"$PYTHON" benchmarks/install_lightfm.py || echo "LightFM not installed: suites will skip it"
exec "$PYTHON" -m benchmarks.run "$@"
