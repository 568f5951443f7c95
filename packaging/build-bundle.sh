#!/usr/bin/env bash
# Build a PyInstaller folder bundle of SkinTrace into dist/SkinTrace.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv-bundle"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt . "pyinstaller==6.*"
"$venv/bin/pyinstaller" --noconfirm --distpath dist --workpath build/pyinstaller packaging/skintrace.spec
echo "bundle: $root/dist/SkinTrace/SkinTrace"
