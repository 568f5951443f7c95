#!/usr/bin/env bash
# Register a built bundle (default dist/SkinTrace) in the user's desktop menu.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bundle="$(cd "${1:-$here/../../dist/SkinTrace}" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
sed "s|^Exec=SkinTrace|Exec=$bundle/SkinTrace|" "$here/skintrace.desktop" > "$apps/skintrace.desktop"
icon="$here/../../resources/icons/skintrace.svg"
[ -f "$icon" ] && cp "$icon" "$icons/skintrace.svg"
echo "installed $apps/skintrace.desktop"
