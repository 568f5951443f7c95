#!/usr/bin/env bash
# Build the SkinTrace wheel into dist/ (uses the project's .venv; runs scripts/setup first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup"
cd "$root"
"$root/.venv/bin/python" -m pip wheel --no-deps --no-build-isolation -w dist . -q 2>/dev/null \
    || "$root/.venv/bin/python" -m pip wheel --no-deps -w dist . -q
ls -1 dist/skintrace-*.whl
