#!/usr/bin/env bash
# Builds everything and runs every test, then prints one line per test target
# and, last, exactly one line "N passed, N failed".
#
#   scripts/test.sh                      # bazel test //...
#   scripts/test.sh --test_filter=Foo    # extra arguments go to bazel test
#   scripts/test.sh //certs:all          # a pattern replaces //...
#
# Exit status is 0 only if the build succeeded and every test passed. A build
# that fails before any test runs counts as a failure, never as "0 failed".
# Works without a terminal or stdin (CI runs it as `CI=true .ci/run`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh </dev/null

# Test everything unless the caller named targets of their own.
targets=(//...)
for arg in "$@"; do
  if [[ "${arg}" == //* ]]; then
    targets=()
    break
  fi
done

log="$(mktemp -t bowden-test.XXXXXX)"
trap 'rm -f "${log}"' EXIT

# No colour or cursor control: the summary below parses Bazel's output.
set +e
bazel test "${targets[@]}" --test_output=errors --color=no --curses=no "$@" \
  </dev/null 2>&1 | tee "${log}"
bazel_status="${PIPESTATUS[0]}"
set -e

# Bazel's summary has one line per test target, e.g.
#   //certs:ca_test                                      (cached) PASSED in 0.4s
#   //relay:printer_store_test                                    FAILED in 1.2s
#   //tunnel:net_test                                    FAILED TO BUILD
#   //agent:targets_test                                          NO STATUS
# Later lines for the same target win (there are none in practice).
declare -A status_of=()
labels=()
summary_re='^(//[^[:space:]]+)[[:space:]]+(\(cached\)[[:space:]]+)?(PASSED|FLAKY|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|INCOMPLETE|REMOTE FAILURE|SKIPPED|BUILD HALTED|BLAZE HALTED)'
while IFS= read -r line; do
  line="${line%$'\r'}"
  if [[ "${line}" =~ ${summary_re} ]]; then
    label="${BASH_REMATCH[1]}"
    [[ -n "${status_of[${label}]+set}" ]] || labels+=("${label}")
    status_of["${label}"]="${BASH_REMATCH[3]}"
  fi
done <"${log}"

# Coverage-guided fuzzing of every parser with clang's libFuzzer, briefly
# (bazel test above already replayed each fuzz target's corpus with gcc).
fuzz_label="scripts/fuzz.sh (libFuzzer+ASan, ${FUZZ_SECONDS:-10} s per target)"
labels+=("${fuzz_label}")
if bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}" </dev/null; then
  status_of["${fuzz_label}"]=PASSED
else
  status_of["${fuzz_label}"]=FAILED
fi

# The Debian packages, installed for real and purged again (root only: CI
# runs as root; dpkg cannot run inside Bazel's test sandbox).
package_label="scripts/package_test.sh (dpkg -i, users, units, relay+agent, purge)"
labels+=("${package_label}")
if bash scripts/package_test.sh </dev/null; then
  status_of["${package_label}"]=PASSED
else
  status_of["${package_label}"]=FAILED
fi

passed=0
failed=0
echo
echo "==== test results ===="
for label in "${labels[@]}"; do
  status="${status_of[${label}]}"
  case "${status}" in
    PASSED | FLAKY) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
  printf '%-16s %s\n' "${status}" "${label}"
done

# Bazel failed but no test says so: the build broke (possibly before any test
# could run), no test targets matched, or Bazel itself failed. Count it.
if ((bazel_status != 0 && failed == 0)); then
  case "${bazel_status}" in
    1) reason="the build failed (see the errors above)" ;;
    2) reason="bad command line or environment (see the errors above)" ;;
    4) reason="no test targets matched" ;;
    8) reason="the run was interrupted" ;;
    *) reason="bazel exited with status ${bazel_status}" ;;
  esac
  printf '%-16s %s\n' "FAILED" "(bazel: ${reason})"
  failed=$((failed + 1))
fi
if ((passed + failed == 0)); then
  printf '%-16s %s\n' "FAILED" "(no test results found in Bazel's output)"
  failed=1
fi

echo "${passed} passed, ${failed} failed"
((failed == 0 && bazel_status == 0))
