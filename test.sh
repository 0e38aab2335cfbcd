#!/usr/bin/env bash
# Run the test suite (setting up the environment first if needed). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-env.sh
exec .venv/bin/python -m pytest "$@"
