#!/usr/bin/env bash
# Cross-builds bowden-agent for arm64 (a Raspberry Pi next to OctoPrint) on a
# Debian 12 amd64 machine, and runs its --version under qemu-aarch64:
#
#   scripts/cross_arm64.sh [--release]    # --release: stamped, as package.sh
#
# 1. Host tools (apt, as root or through sudo): Debian's aarch64 cross
#    compiler, qemu-user and dpkg-dev. `--no-remove`: apt aborts rather than
#    remove anything, so the amd64 build is never touched.
# 2. The sysroot ($BOWDEN_ARM64_SYSROOT, default .arm64-sysroot/ in the
#    workspace): Debian's arm64 -dev packages of the agent's libraries and
#    their dependencies, resolved by a private arm64-only apt (its own lists,
#    cache and an empty dpkg status, in SYSROOT.apt/), downloaded and unpacked
#    with dpkg-deb -x. Nothing :arm64 is installed into the system: for the
#    -dev packages that are not Multi-Arch: same, apt would remove their
#    amd64 versions. SYSROOT/var/lib/dpkg is a dpkg database of the unpacked
#    packages, so that dpkg-shlibdeps (package.sh --arch=arm64) can compute
#    the arm64 package's Depends. Needs deb.debian.org once; re-runs reuse it.
# 3. bazel build --config=arm64 //agent:bowden-agent (toolchains/arm64).
# 4. qemu-aarch64 -L SYSROOT bowden-agent --version.
#
# Prints the path of the arm64 binary. docs/arm64.md has the details.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"

die() {
  echo "cross_arm64: $*" >&2
  exit 1
}

release=()
case "${1:-}" in
  "") ;;
  --release) release=(--config=release) ;;
  *) die "unknown argument '$1': the only option is --release" ;;
esac

export BOWDEN_ARM64_SYSROOT="${BOWDEN_ARM64_SYSROOT:-${ROOT}/.arm64-sysroot}"
readonly SYSROOT="${BOWDEN_ARM64_SYSROOT}"
[[ "${SYSROOT}" == /* ]] || die "BOWDEN_ARM64_SYSROOT must be an absolute path, not '${SYSROOT}'"

# The agent's libraries as Debian arm64 packages (see third_party/BUILD.bazel)
# plus the C and C++ runtime to link against; apt adds their dependencies.
readonly PACKAGES=(
  libgrpc++-dev libprotobuf-dev libabsl-dev libgoogle-glog-dev libgflags-dev
  libssl-dev libsqlite3-dev libboost-dev libc6-dev libstdc++-12-dev
)

# ---- 1. host tools ----------------------------------------------------------

host_tools=(g++-aarch64-linux-gnu qemu-user dpkg-dev)
missing=()
for package in "${host_tools[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null)" || status=""
  [[ "${status}" == *" ok installed" ]] || missing+=("${package}")
done
if ((${#missing[@]} > 0)); then
  echo "cross_arm64: installing ${missing[*]}"
  as_root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and no sudo; as root run: apt-get install ${missing[*]}"
    as_root=(sudo -n)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y --no-install-recommends --no-remove "${missing[@]}" </dev/null
fi

# ---- 2. the sysroot ---------------------------------------------------------

# Options for a private, arm64-only apt whose state lives in SYSROOT.apt/.
readonly APT_DIR="${SYSROOT}.apt"
APT=(apt-get -q -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o "Dir::State=${APT_DIR}/state" -o "Dir::State::status=${APT_DIR}/state/status"
  -o "Dir::Cache=${APT_DIR}/cache" -o Debug::NoLocking=1)
((EUID == 0)) && APT+=(-o APT::Sandbox::User=root)

# Writes a dpkg database of the unpacked packages to SYSROOT/var/lib/dpkg:
# status, the file lists (with SYSROOT-prefixed paths, as dpkg-shlibdeps
# finds the libraries there) and the symbols/shlibs files.
write_dpkg_db() {
  local db="${SYSROOT}/var/lib/dpkg" deb control package name ext
  rm -rf "${db}"
  mkdir -p "${db}/info" "${db}/updates"
  printf 'amd64\narm64\n' >"${db}/arch"
  echo 1 >"${db}/info/format" # file names carry the architecture
  : >"${db}/status"
  control="$(mktemp -d)"
  for deb in "${APT_DIR}"/cache/archives/*.deb; do
    rm -rf "${control:?}"/*
    dpkg-deb -e "${deb}" "${control}"
    package="$(dpkg-deb -f "${deb}" Package)"
    {
      sed -n '1p' "${control}/control"
      echo "Status: install ok installed"
      sed -e '1d' -e '/^$/d' "${control}/control"
      echo
    } >>"${db}/status"
    dpkg-deb --fsys-tarfile "${deb}" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' |
      grep -v '^/*$' | sed "s|^|${SYSROOT}|" >"${db}/info/${package}:arm64.list"
    for ext in symbols shlibs; do
      [[ -f "${control}/${ext}" ]] && cp "${control}/${ext}" "${db}/info/${package}:arm64.${ext}"
    done
    # dpkg looks for packages that are not Multi-Arch: same without ":arm64".
    for name in "${db}/info/${package}:arm64".*; do
      ln -sf "${name##*/}" "${name/:arm64/}"
    done
  done
  rm -rf "${control}"
}

readonly STAMP="${SYSROOT}/.bowden-sysroot"
if [[ -d "${SYSROOT}" && ! -f "${STAMP}" && -n "$(ls -A "${SYSROOT}")" ]]; then
  die "${SYSROOT} is not empty and was not made by this script: set BOWDEN_ARM64_SYSROOT to a new directory"
fi
if [[ "$(cat "${STAMP}" 2>/dev/null)" != "${PACKAGES[*]}" ]]; then
  echo "cross_arm64: resolving and unpacking the arm64 sysroot in ${SYSROOT}"
  rm -rf "${SYSROOT}" "${APT_DIR}/cache/archives"
  mkdir -p "${APT_DIR}/state/lists/partial" "${APT_DIR}/cache/archives/partial" "${SYSROOT}"
  : >"${APT_DIR}/state/status"
  "${APT[@]}" update </dev/null >"${APT_DIR}/update.log" 2>&1 ||
    { cat "${APT_DIR}/update.log" >&2; die "apt-get update for arm64 failed (is deb.debian.org reachable?)"; }
  # An empty dpkg status: apt downloads the whole dependency closure.
  "${APT[@]}" install -y --download-only --no-install-recommends "${PACKAGES[@]}" \
    </dev/null >"${APT_DIR}/download.log" 2>&1 ||
    { cat "${APT_DIR}/download.log" >&2; die "downloading the arm64 packages failed"; }
  for deb in "${APT_DIR}"/cache/archives/*.deb; do
    dpkg-deb -x "${deb}" "${SYSROOT}"
  done
  # Debian's -dev symlinks (libz.so -> /lib/...) are absolute: point them
  # into the sysroot, or the linker would pick up the host's amd64 files.
  find "${SYSROOT}" -type l -lname '/*' -print0 |
    while IFS= read -r -d '' link; do
      ln -sfr "${SYSROOT}$(readlink "${link}")" "${link}"
    done
  write_dpkg_db
  echo "${PACKAGES[*]}" >"${STAMP}"
fi

# protoc and grpc_cpp_plugin run on the host; the code they generate only
# compiles against the same protobuf and gRPC release.
sysroot_version() {
  sed -n "/^Package: $1\$/,/^\$/s/^Version: //p" "${SYSROOT}/var/lib/dpkg/status"
}
for pair in protobuf-compiler:libprotobuf-dev protobuf-compiler-grpc:libgrpc++-dev; do
  host="$(dpkg-query -W -f='${Version}' "${pair%%:*}" 2>/dev/null)" ||
    die "${pair%%:*} is missing: run scripts/install-deps.sh"
  target="$(sysroot_version "${pair##*:}")"
  [[ "${host%%-*}" == "${target%%-*}" ]] ||
    die "the host's ${pair%%:*} ${host} and the sysroot's ${pair##*:}:arm64 ${target} differ: upgrade the host's packages (apt-get install --only-upgrade ${pair%%:*}) or delete ${SYSROOT} to fetch the sysroot again"
done

# ---- 3. build ---------------------------------------------------------------

bazel build --config=arm64 "${release[@]}" --color=no --curses=no //agent:bowden-agent </dev/null
bin="$(bazel info --config=arm64 "${release[@]}" bazel-bin 2>/dev/null)/agent/bowden-agent"

# ---- 4. smoke test under qemu -----------------------------------------------

aarch64-linux-gnu-readelf -h "${bin}" | grep -q 'Machine: *AArch64' ||
  die "${bin} is not an arm64 executable: check the --config=arm64 lines in .bazelrc"
version="$(qemu-aarch64 -L "${SYSROOT}" "${bin}" --version)" ||
  die "${bin} --version failed under qemu-aarch64 -L ${SYSROOT}"
echo "cross_arm64: qemu-aarch64: ${version}" >&2
echo "${bin}"
