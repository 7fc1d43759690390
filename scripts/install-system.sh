#!/usr/bin/env bash
# Install the system packages GridOps needs, only those missing (Debian/Ubuntu, as root or with sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: installing system packages needs root or sudo" >&2; exit 1
  fi
fi

missing() {  # print the packages of "$@" that dpkg does not have installed
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

apt_install() {
  local need
  need=$(missing "$@")
  [ -z "$need" ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install these packages yourself: $need" >&2; exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  echo "installing: $need"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
}

# PostgreSQL first, then the PostGIS build for its major version.
apt_install postgresql postgresql-contrib libpq-dev gcc make python3-dev python3-venv
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
apt_install "postgresql-${pg_version}-postgis-3" "postgresql-${pg_version}-postgis-3-scripts"

# The inspectors' app (Kivy): OpenGL through Mesa's software renderer for its window (tests run it
# offscreen), the multitouch and clipboard helpers Kivy looks for on Linux, and a CJK font so Chinese
# text renders instead of empty boxes.
apt_install libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 libmtdev1 xclip fonts-noto-cjk

# The command-center web app: npm installs MapLibre GL JS at set-up; the browser tests drive Debian's
# Chromium (headless).
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
apt_install chromium

# The reports' PDF (WeasyPrint): Pango and HarfBuzz's subsetter for the text, the CJK font for Chinese.
apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk

# The production units in deploy/systemd are checked by the tests with systemd-analyze.
apt_install systemd
