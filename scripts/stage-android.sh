#!/usr/bin/env bash
# Lay out the folder buildozer builds the Android app from (the layout is described in
# mobile/buildozer.spec): the spec, main.py at the top, and the packages mobile, gis and grids.
#   scripts/stage-android.sh [FOLDER]      (default build/android)
#   cd build/android && buildozer android debug
# Buildozer's own downloads (.buildozer/, the SDK and NDK under ~/.buildozer) are kept between builds.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/android}
mkdir -p "$out"
rm -rf "${out:?}/mobile" "$out/gis" "$out/grids"
cp mobile/buildozer.spec "$out/buildozer.spec"
cp mobile/main.py "$out/main.py"
for package in mobile gis grids; do
  cp -r "$package" "$out/$package"
done
find "$out/mobile" "$out/gis" "$out/grids" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$out/mobile/buildozer.spec"
echo "staged in $out: cd $out && buildozer android debug"
