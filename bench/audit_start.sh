#!/usr/bin/env bash
# What a relay start costs at farm scale, and what a guarded request costs in
# the audit log: fills a log with ROWS chained http.request rows (default
# 3,500,000, the size issue 10 measured 6.0 s of start-up verification at),
# then times the start's check (VerifySinceHead) against a full verify, and
# prints the file's bytes per row. See docs/benchmarks.md.
#
#   bench/audit_start.sh [ROWS] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=3500000
build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --help|-h) sed -n '2,8p' "$0"; exit 0 ;;
    *) rows="$arg" ;;
  esac
done
if [[ $build == 1 ]]; then
  bazel build //audit:audit_fill_for_test //audit:audit_verify_for_bench >&2
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db="$dir/audit.db"
start=$(date +%s.%N)
bazel-bin/audit/audit_fill_for_test "$db" "$rows"
end=$(date +%s.%N)
# Fold the WAL into the file so its size is the log's.
python3 - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
PY
bytes=$(stat -c %s "$db")
echo "rows: $rows (filled in $(python3 -c "print(round($end - $start, 1))") s)"
echo "file: $bytes bytes, $((bytes / rows)) bytes per http.request row (all indexes included)"
bazel-bin/audit/audit_verify_for_bench "$db"
# Rows another program appended behind the head are walked once.
bazel-bin/audit/audit_fill_for_test "$db" 10000 --stale-head
echo "after 10,000 rows appended behind the head:"
bazel-bin/audit/audit_verify_for_bench "$db"
