#!/usr/bin/env bash
# Installs the Debian 12 packages that Bowden's build, tests, demo and
# benchmarks need, and only those that are missing. Quiet and quick when
# everything is already there, so the other scripts can call it every time.
#
#   scripts/install-deps.sh
set -euo pipefail

packages=(
  # Build: Bazel and a C++17 compiler.
  bazel-bootstrap g++
  # Libraries linked through //third_party (headers and .so from Debian).
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgoogle-glog-dev libgflags-dev libssl-dev libsqlite3-dev
  libboost-dev libgtest-dev libgmock-dev
  # Prometheus metrics (//third_party:prometheus): prometheus-cpp core and
  # pull (civetweb); promtool (from prometheus) checks the scraped text.
  prometheus-cpp-dev prometheus
  # Demo and tests: real processes on loopback.
  curl python3 openssl ca-certificates
  # Tests and benchmarks: a real web server, load generator and SSH; socat
  # for bench/run.sh's reference paths.
  nginx-light wrk openssh-server openssh-client socat
  # The OctoPrint UI end-to-end test drives a real headless browser.
  chromium
  # Packages (scripts/package.sh, package_test.sh): dpkg-shlibdeps for the
  # library dependencies, systemd-analyze to check the units.
  dpkg-dev systemd
  # Fuzzing (scripts/fuzz.sh): clang with libFuzzer and AddressSanitizer.
  clang libclang-rt-14-dev
)

is_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
  [[ "${status}" == *" ok installed" ]]
}

missing=()
for package in "${packages[@]}"; do
  is_installed "${package}" || missing+=("${package}")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"

# Root runs apt-get directly. Anyone else goes through sudo, which must not
# prompt when there is no terminal to answer it (CI runs without stdin).
as_root=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: not root and sudo is not installed; as root run:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
  [[ -t 0 ]] || as_root+=(-n)
fi

# --no-install-recommends keeps the set small (recommends would pull in, for
# example, a whole desktop's worth of packages for some of these).
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null

echo "install-deps: installed ${missing[*]}"
