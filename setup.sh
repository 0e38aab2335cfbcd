#!/usr/bin/env bash
# Set everything up on a fresh clone (virtual environment, project, dependencies) and build
# the book into dist/. Extra arguments go to build.py (e.g. ./setup.sh pdf).
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-env.sh
exec .venv/bin/python build.py "$@"
