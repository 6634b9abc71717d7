#!/usr/bin/env bash
# Bazel's --workspace_status_command for release builds (--config=release in
# .bazelrc, used by scripts/package.sh): the git revision the binaries are
# built from, which `--version` prints (see version/README.md).
#
#   STABLE_GIT_REVISION  12 hex digits of HEAD, "-dirty" if the tree has
#                        uncommitted changes to tracked files
#   STABLE_GIT_COMMITS   commits up to HEAD: makes package versions increase
#
# STABLE_ keys only: a change relinks the stamped binaries, and nothing else.
# Run by hand it prints the same lines, so scripts can compare against them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

revision="$(git rev-parse --short=12 HEAD)"
# Refresh the index first so a touched but unchanged file is not "dirty".
git update-index -q --refresh >/dev/null 2>&1 || true
if ! git diff-index --quiet HEAD --; then
  revision="${revision}-dirty"
fi
echo "STABLE_GIT_REVISION ${revision}"
echo "STABLE_GIT_COMMITS $(git rev-list --count HEAD)"
