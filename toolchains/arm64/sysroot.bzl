"""Where the arm64 sysroot lives, for the cross toolchain in this package.

The sysroot (Debian's arm64 -dev and runtime packages unpacked by
scripts/cross_arm64.sh) is large and machine-local, so it is not part of the
repository. Its absolute path has to be known when Bazel analyses the
toolchain (cc_toolchain_config's builtin_sysroot), so this repository rule
writes it into a .bzl file: $BOWDEN_ARM64_SYSROOT, or `.arm64-sysroot` in the
workspace. The rule only writes a path; it never fails, so loading this
package (e.g. `bazel build //...`) works on machines without a sysroot.
"""

def _arm64_sysroot_impl(rctx):
    path = rctx.os.environ.get("BOWDEN_ARM64_SYSROOT", "")
    if not path:
        path = str(rctx.path(Label("//:WORKSPACE")).dirname) + "/.arm64-sysroot"
    rctx.file("BUILD.bazel", "")
    rctx.file("path.bzl", "ARM64_SYSROOT = %r\n" % path)

arm64_sysroot = repository_rule(
    implementation = _arm64_sysroot_impl,
    environ = ["BOWDEN_ARM64_SYSROOT"],
    local = True,
)
