# shellcheck shell=bash
# Shell helpers shared by the bench/ scripts: starting and
# watching the processes of one benchmark run. Sourced, not run. The caller
# defines T (its temporary directory) and the array PIDS (every process it
# started, stopped by its cleanup trap).

# stop_started [GRACE_S]: stops every process in PIDS (only what the script
# started), newest first: TERM, then KILL after GRACE_S (default 5) seconds,
# and reaps them. For the scripts' EXIT traps.
stop_started() {
  local grace="${1:-5}" i pid deadline
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + grace))
  for pid in "${PIDS[@]}"; do
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -KILL "${pid}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "${pid}" 2>/dev/null || true
  done
}

# wait_for TIMEOUT_S PID WHAT CMD...: polls CMD until it succeeds; fails after
# TIMEOUT_S seconds or as soon as PID (if not empty) has exited.
wait_for() {
  local timeout="$1" pid="$2" what="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${pid}" ]] && ! kill -0 "${pid}" 2>/dev/null; then
      echo "bench: ${what}: the process exited" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "bench: timed out after ${timeout}s waiting for ${what}" >&2
      return 1
    fi
    sleep 0.05
  done
}

# http_ok URL: whether URL answers 200.
http_ok() {
  [[ "$(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "$1")" == 200 ]]
}

# The live descendants of PID (children first found, grandchildren after).
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null || true); do
    echo "${child}"
    descendants "${child}"
  done
}

# start NAME CMD...: runs CMD in the background, stdout in $T/NAME.out and
# stderr in $T/NAME.err; sets LAST_PID.
start() {
  local name="$1"
  shift
  "$@" >"${T}/${name}.out" 2>"${T}/${name}.err" </dev/null &
  LAST_PID=$!
  PIDS+=("${LAST_PID}")
}

show_logs() {
  local name file
  for name in "$@"; do
    for file in "${T}/${name}.out" "${T}/${name}.err"; do
      if [[ -s "${file}" ]]; then
        echo "---- ${file##*/} (last lines)" >&2
        tail -n 20 "${file}" >&2
      fi
    done
  done
}

# write_nginx_conf PORT TYPE [EXTRA] [SERVER_EXTRA]: prints an nginx.conf for
# one process serving ${T}/www on 127.0.0.1:PORT (default type TYPE,
# keep-alive, no access log, TCP_NODELAY, 4096 connections and backlog), its
# files under ${T}/nginx; EXTRA goes into http {}, SERVER_EXTRA into server {}.
write_nginx_conf() {
  cat <<EOF
daemon off;
master_process off;
worker_processes 1;
pid ${T}/nginx/nginx.pid;
error_log ${T}/nginx/error.log warn;
events { worker_connections 4096; }
http {
  default_type $2;
  access_log off;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${T}/nginx/tmp/body;
  proxy_temp_path ${T}/nginx/tmp/proxy;
  fastcgi_temp_path ${T}/nginx/tmp/fastcgi;
  uwsgi_temp_path ${T}/nginx/tmp/uwsgi;
  scgi_temp_path ${T}/nginx/tmp/scgi;
  ${3:-}
  server {
    listen 127.0.0.1:$1 backlog=4096;
    root ${T}/www;
    ${4:-}
  }
}
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Sum of utime+stime, in seconds, of the given processes and their live
# descendants (a process's figure covers all its threads), plus the CPU time
# of their children that have ended and been waited for (cutime+cstime):
# socat's per-connection children end with their connection.
cpu_seconds() {
  local pid all=() children=() ticks=0 hz
  hz="$(getconf CLK_TCK)"
  for pid in "$@"; do
    mapfile -t children < <(descendants "${pid}")
    all+=("${pid}" "${children[@]}")
  done
  for pid in "${all[@]}"; do
    if [[ -r "/proc/${pid}/stat" ]]; then
      # Fields after the ")" that ends comm: utime is the 12th, stime the
      # 13th, cutime and cstime (children waited for) the 14th and 15th.
      ticks=$((ticks + $(sed 's/.*) //' "/proc/${pid}/stat" | awk '{ print $12 + $13 + $14 + $15 }')))
    fi
  done
  awk -v t="${ticks}" -v hz="${hz}" 'BEGIN { printf "%.2f", t / hz }'
}

# Sum of VmRSS, in KiB, of the given processes and their live descendants
# (resident memory, shared pages counted in each process that maps them).
rss_kib() {
  local pid all=() children=() kib=0 v
  for pid in "$@"; do
    mapfile -t children < <(descendants "${pid}")
    all+=("${pid}" "${children[@]}")
  done
  for pid in "${all[@]}"; do
    v="$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid}/status" 2>/dev/null || true)"
    kib=$((kib + ${v:-0}))
  done
  echo "${kib}"
}

# build_binaries BUILD [EXTRA_TARGET...]: when BUILD is 1, bazel-builds the
# relay, the agent and the CLI (and EXTRA_TARGETs) with the repository's
# .bazelrc (-O2); dies if the build fails.
build_binaries() {
  local build="$1"
  shift
  ((build)) || return 0
  say "Building bowden-relay, bowden-agent and bowden"
  bazel build --color=no --curses=no \
    //relay:bowden-relay //agent:bowden-agent //cli:bowden "$@" >&2 ||
    die "bazel build failed"
}

# require_binaries FILE...: dies unless every FILE is an executable.
require_binaries() {
  local bin
  for bin in "$@"; do
    [[ -x "${bin}" ]] || die "${bin} is missing: build it (drop --no-build)"
  done
}
