#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser with clang's libFuzzer and
# AddressSanitizer. `bazel test` already replays each target's corpus with
# gcc; this script fuzzes for real.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"

command -v clang++ >/dev/null || { echo "fuzz.sh: install clang and libclang-rt-14-dev" >&2; exit 1; }
bazel build //proto:config_proto >/dev/null 2>&1
gen="$(bazel info bazel-bin 2>/dev/null)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

absl_libs=$(ls /usr/lib/x86_64-linux-gnu/libabsl_*.so | sed 's|.*/lib\(.*\)\.so|-l\1|')
build() {  # name sources...
  local name="$1"; shift
  clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address -I. -I"$gen" \
    "tests/fuzz/${name}_fuzz.cc" "$@" -o "$out/$name" $absl_libs -lprotobuf -lcrypto
}
build spiffe_id identity/spiffe_id.cc
build client_chain identity/client_chain.cc identity/peer.cc identity/spiffe_id.cc \
  -lglog -lgrpc++ -lgrpc -lgpr
build host_port tunnel/net.cc
build policy policy/policy.cc identity/spiffe_id.cc "$gen/proto/config.pb.cc"
build gcode gcode/parser.cc gcode/parsed_line.cc gcode/checker.cc gcode/emergency.cc \
  gcode/stream_scanner.cc
build canonical_path guard/canonical_path.cc guard/rules.cc policy/policy.cc identity/spiffe_id.cc "$gen/proto/config.pb.cc"
build multipart guard/multipart.cc
build body_inspector guard/body_inspector.cc guard/printer_command.cc guard/python_format.cc \
  gcode/parser.cc gcode/parsed_line.cc gcode/checker.cc gcode/emergency.cc
build origin_check guard/origin_check.cc
build settings_redactor guard/settings_redactor.cc
build passive_login agent/passive_login.cc
build flag_scan cli/flag_scan.cc config/repeated_flag.cc terminal/terminal_text.cc
build http_guard guard/http_guard.cc guard/http_guard_response.cc guard/origin_check.cc guard/http_guard_upload.cc guard/upload_inspector.cc \
  guard/http_guard_redact.cc guard/settings_redactor.cc \
  guard/multipart.cc guard/forwarding.cc guard/body_inspector.cc guard/printer_command.cc \
  guard/python_format.cc guard/canonical_path.cc \
  guard/rules.cc policy/policy.cc identity/spiffe_id.cc "$gen/proto/config.pb.cc" \
  gcode/parser.cc gcode/parsed_line.cc gcode/checker.cc gcode/emergency.cc gcode/stream_scanner.cc

status=0
for name in spiffe_id client_chain host_port policy gcode canonical_path multipart body_inspector origin_check settings_redactor passive_login flag_scan http_guard; do
  corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$name"/* "$corpus"/
  echo "== fuzzing $name for ${seconds}s"
  if ! "$out/$name" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
      -artifact_prefix="$out/$name-" "$corpus" 2>"$out/$name.log"; then
    status=1
    echo "fuzz.sh: $name crashed; reproducer and log:" >&2
    ls "$out"/"$name"-* >&2 || true
    tail -40 "$out/$name.log" >&2
    mkdir -p fuzz-findings && cp "$out"/"$name"-* fuzz-findings/ 2>/dev/null || true
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/$name.log" | tail -2
  fi
done
exit $status
