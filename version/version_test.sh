#!/usr/bin/env bash
# Each program given prints one --version line in the documented format,
# with the number from VERSION, and exits 0.
#   version_test.sh BINARY...
set -euo pipefail

number="$(cat VERSION)"
status=0
for binary in "$@"; do
  program="$(basename "${binary}")"
  if ! output="$("${binary}" --version 2>&1)"; then
    echo "FAIL: ${program} --version exited with status $?: ${output}" >&2
    status=1
    continue
  fi
  pattern="^${program} ${number//./[.]} \((git [0-9a-f]{12,40}(-dirty)?|git revision unknown: unstamped build)\)$"
  if [[ "${output}" =~ ${pattern} ]]; then
    echo "ok: ${output}"
  else
    echo "FAIL: ${program} --version printed '${output}', expected /${pattern}/" >&2
    status=1
  fi
done
exit "${status}"
