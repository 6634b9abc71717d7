#!/usr/bin/env bash
# Builds the Debian packages bowden-relay, bowden-agent and bowden from the
# Bazel outputs, offline, with dpkg-deb:
#
#   scripts/package.sh [OUT_DIR]                 # default: dist/
#   scripts/package.sh --arch=arm64 [OUT_DIR]    # bowden-agent only
#
# --arch=arm64 cross-builds the agent for a Raspberry Pi with
# scripts/cross_arm64.sh (its sysroot, $BOWDEN_ARM64_SYSROOT, also gives
# dpkg-shlibdeps the arm64 libraries' packages); docs/arm64.md.
#
# The binaries are built with --config=release, so their --version names the
# git revision (version/README.md). Package versions are
# VERSION+gitCOMMITS.REVISION, e.g. 0.1.0+git165.7375d07a1b2c, so that each
# commit's packages upgrade the previous one's ("+dirty" when built from a
# tree with uncommitted changes). Layout and maintainer scripts:
# packaging/README.md. Prints the path of each .deb it wrote.
set -euo pipefail
# Packaged files and directories are world-readable (0644, 0755) whatever
# the caller's umask; the state directories get 0700 in postinst.
umask 022

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly ROOT="${PWD}"
arch="$(dpkg --print-architecture)"
if [[ "${1:-}" == --arch=* ]]; then
  arch="${1#--arch=}"
  shift
fi
out="${1:-dist}"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"

die() {
  echo "package: $*" >&2
  exit 1
}

for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "${tool}" >/dev/null ||
    die "${tool} is missing: run scripts/install-deps.sh (it installs dpkg-dev)"
done

# Extra dpkg-shlibdeps arguments: where a cross build's libraries and their
# packages are.
shlibdeps_args=()
bin_dir="${ROOT}/bazel-bin"
if [[ "${arch}" == "$(dpkg --print-architecture)" ]]; then
  bazel build --config=release --color=no --curses=no \
    //relay:bowden-relay //agent:bowden-agent //cli:bowden </dev/null
elif [[ "${arch}" == arm64 ]]; then
  export BOWDEN_ARM64_SYSROOT="${BOWDEN_ARM64_SYSROOT:-${ROOT}/.arm64-sysroot}"
  scripts/cross_arm64.sh --release >/dev/null
  sysroot="${BOWDEN_ARM64_SYSROOT}"
  bin_dir="$(bazel info --config=arm64 --config=release bazel-bin 2>/dev/null)"
  shlibdeps_args=(--admindir="${sysroot}/var/lib/dpkg"
    "-l${sysroot}/usr/lib/aarch64-linux-gnu" "-l${sysroot}/lib/aarch64-linux-gnu")
else
  die "--arch=${arch}: only the host's architecture and arm64 are supported"
fi

# The revision the binaries were stamped with, not a fresh `git` call: the
# tree may have changed since the build started.
status_file="${ROOT}/bazel-out/stable-status.txt"
revision="$(sed -n 's/^STABLE_GIT_REVISION //p' "${status_file}")"
commits="$(sed -n 's/^STABLE_GIT_COMMITS //p' "${status_file}")"
[[ -n "${revision}" && -n "${commits}" ]] ||
  die "no STABLE_GIT_REVISION/COMMITS in ${status_file}: is scripts/workspace_status.sh wired in .bazelrc?"
version="$(cat VERSION)+git${commits}.${revision%-dirty}"
[[ "${revision}" == *-dirty ]] && version+="+dirty"

work="$(mktemp -d -t bowden-package.XXXXXX)"
trap 'rm -rf "${work}"' EXIT

# The Debian packages of the shared libraries BINARY links, from their
# shlibs/symbols files (dpkg-shlibdeps), e.g. "libc6 (>= 2.34), libssl3 ...".
# dpkg-shlibdeps wants a debian/control; a stub naming the package does.
shlib_depends() {
  local package="$1" binary="$2" line
  local dir="${work}/shlibs-${package}"
  mkdir -p "${dir}/debian"
  printf 'Source: bowden\n\nPackage: %s\nArchitecture: any\n' "${package}" >"${dir}/debian/control"
  line="$(cd "${dir}" && DEB_HOST_ARCH="${arch}" \
    dpkg-shlibdeps "${shlibdeps_args[@]}" -O "${binary}" 2>"${dir}/warnings")" ||
    { cat "${dir}/warnings" >&2; die "dpkg-shlibdeps failed for ${binary}"; }
  echo "${line#shlibs:Depends=}"
}

# Fills in a packaging/debian/*.in template.
#   fill TEMPLATE PACKAGE > FILE
fill() {
  sed -e "s|@PACKAGE@|$2|g" "$1"
}

# Builds one package.
#   build_deb PACKAGE BINARY_LABEL_PATH SUMMARY EXTRA_DEPENDS [ETC_FILE...]
# ETC_FILE names a file in packaging/etc/ that goes to /etc/bowden/ as a
# conffile. Packages with conffiles are services: they get the systemd unit
# packaging/systemd/PACKAGE.service and the maintainer scripts.
build_deb() {
  local package="$1" built="$2" summary="$3" extra_depends="$4"
  shift 4
  local root="${work}/${package}" binary="${built##*/}" depends file
  mkdir -p "${root}/DEBIAN"
  install -D -m 0755 "${bin_dir}/${built}" "${root}/usr/bin/${binary}"
  install -D -m 0644 packaging/README.md "${root}/usr/share/doc/${package}/README.md"
  depends="$(shlib_depends "${package}" "${root}/usr/bin/${binary}")"
  [[ -n "${extra_depends}" ]] && depends+=", ${extra_depends}"

  if (($# > 0)); then
    : >"${root}/DEBIAN/conffiles"
    for file in "$@"; do
      install -D -m 0644 "packaging/etc/${file}" "${root}/etc/bowden/${file}"
      echo "/etc/bowden/${file}" >>"${root}/DEBIAN/conffiles"
    done
    install -D -m 0644 "packaging/systemd/${package}.service" \
      "${root}/lib/systemd/system/${package}.service"
    for file in postinst prerm postrm; do
      fill "packaging/debian/${file}.in" "${package}" >"${root}/DEBIAN/${file}"
      chmod 0755 "${root}/DEBIAN/${file}"
    done
  fi

  fill packaging/debian/control.in "${package}" |
    sed -e "s|@VERSION@|${version}|" -e "s|@ARCH@|${arch}|" -e "s|@DEPENDS@|${depends}|" \
      -e "s|@SUMMARY@|${summary}|" -e "s|@REVISION@|${revision}|" >"${root}/DEBIAN/control"
  echo "Installed-Size: $(du -sk --exclude=DEBIAN "${root}" | cut -f1)" >>"${root}/DEBIAN/control"
  (cd "${root}" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"${root}/DEBIAN/md5sums"

  local deb="${out}/${package}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "${root}" "${deb}" >/dev/null
  echo "${deb}"
}

# useradd, userdel and groupdel (passwd) run in the maintainer scripts.
# An arm64 build is the agent's only: it runs on the printer host.
[[ "${arch}" == arm64 ]] || build_deb bowden-relay relay/bowden-relay "Bowden relay: zero-trust tunnel to 3D printers" \
  passwd relay.textproto policy.textproto
build_deb bowden-agent agent/bowden-agent "Bowden agent: lets a printer host dial out to the relay" \
  passwd agent.env
[[ "${arch}" == arm64 ]] || build_deb bowden cli/bowden "Bowden CLI: reach your printers through the relay" ""
