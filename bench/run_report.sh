# bench/run.sh's report: the markdown tables of its measurements and the
# "Goals (issue 12)" table. Sourced by run.sh after measuring; reads its R[]
# results, NOTES and settings, and defines report(), which prints the report.
# Not meant to be run on its own.
# shellcheck shell=bash
# ratio A B: A/B to two decimals, or n/a.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", a / b; else print "n/a" }'
}
# goal A B C: is Bowden's A at least the better of ssh's B and C (higher is
# better)?
goal() {
  awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {
    if (c + 0 > b + 0) b = c
    if (!(a + 0 > 0 && b + 0 > 0)) print "n/a"
    else if (a >= b) print "**yes**"
    else if (a >= 0.95 * b) print "no (within 5%)"
    else print "**no**" }'
}

first_line() { "$@" 2>&1 | head -n 1 || true; }
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
GIT_REV="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "${ROOT}" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  GIT_REV="${GIT_REV} (work tree has uncommitted changes)"
fi

row() {  # row LABEL KEY [goal]
  local label="$1" key="$2" want="${3:-}" g="—"
  local b="${R[bowden.${key}]}" s="${R[ssh.${key}]}" n="${R[sshnd.${key}]}"
  [[ -z "${want}" ]] || g="$(goal "${b}" "${s}" "${n}")"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${label}" "${R[direct.${key}]}" \
    "${b}" "${s}" "${n}" "$(ratio "${b}" "${s}")" "$(ratio "${b}" "${n}")" "${g}"
}

guard_row() {  # guard_row LABEL KEY
  local b="${R[bowden.$2]}" g="${R[guarded.$2]}"
  printf '| %s | %s | %s | %s |\n' "$1" "${b}" "${g}" "$(ratio "${g}" "${b}")"
}

# judge A OP B: "met" if A OP B holds (OP is lt, le or ge), "not met" if
# not, "n/a" if either figure is missing.
judge() {
  awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
    if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) { print "n/a"; exit }
    ok = (op == "lt") ? a < b : (op == "le") ? a <= b : a >= b
    print ok ? "met" : "not met" }'
}

# goal_row GOAL BOWDEN UNIT BAR OP BAR_TEXT: one row of the goals table; the
# ratio is Bowden's figure over the bar.
goal_row() {
  local goal="$1" b="$2" unit="$3" bar="$4" op="$5" bar_text="$6" v
  v="$(judge "${b}" "${op}" "${bar}")"
  GOALS_SEEN=$((GOALS_SEEN + 1))
  [[ "${v}" != met ]] || GOALS_MET=$((GOALS_MET + 1))
  printf '| %s | %s %s | %s | %s | %s |\n' "${goal}" "${b}" "${unit}" "${bar_text}" \
    "$(ratio "${b}" "${bar}")" "$([[ "${v}" == met ]] && echo met || echo "**${v}**")"
}

# The lower (better) of the two ssh figures for KEY.
best_ssh_low() {
  awk -v a="${R[ssh.$1]}" -v b="${R[sshnd.$1]}" 'BEGIN {
    if (a !~ /^[0-9.]+$/) print b; else if (b !~ /^[0-9.]+$/ || a <= b) print a; else print b }'
}

goals_table() {
  local cpu_bar idle0 idle1
  GOALS_SEEN=0
  GOALS_MET=0
  cpu_bar="$(awk -v c="$(best_ssh_low dl_cpu)" 'BEGIN { if (c ~ /^[0-9.]+$/) printf "%.2f", 1.5 * c; else print "n/a" }')"
  idle0="$(mib "${AGENT_IDLE_START_KIB}")"
  idle1="$(mib "${AGENT_IDLE_END_KIB}")"
  local rows
  rows="$(
    goal_row "wrk -c1 p99 under 1 ms" "${R[bowden.c1_p99]}" ms 1 lt "1 ms (ssh -tt: ${R[sshnd.c1_p99]} ms)"
    goal_row "wrk -c1 requests/s ≥ ssh -tt -R's" "${R[bowden.c1_rps]}" req/s "${R[sshnd.c1_rps]}" ge "${R[sshnd.c1_rps]}"
    goal_row "CPU per request at c1 ≤ ssh -tt -R's" "${R[bowden.c1_cpu]}" µs "${R[sshnd.c1_cpu]}" le "${R[sshnd.c1_cpu]} µs"
    goal_row "wrk -c50 requests/s ≥ ssh -tt -R's" "${R[bowden.c50_rps]}" req/s "${R[sshnd.c50_rps]}" ge "${R[sshnd.c50_rps]}"
    goal_row "new connection p50 ≤ ssh -N -R's" "${R[bowden.conn_p50]}" ms "${R[ssh.conn_p50]}" le "${R[ssh.conn_p50]} ms"
    goal_row "${BIG_MIB} MiB download MiB/s ≥ ssh -N -R's" "${R[bowden.dl]}" MiB/s "${R[ssh.dl]}" ge "${R[ssh.dl]} MiB/s"
    goal_row "(stretch) ${BIG_MIB} MiB download MiB/s ≥ ssh -tt -R's" "${R[bowden.dl]}" MiB/s "${R[sshnd.dl]}" ge "${R[sshnd.dl]} MiB/s"
    goal_row "CPU per GiB ≤ 1.5× OpenSSH's (the lower ssh figure)" "${R[bowden.dl_cpu]}" s "${cpu_bar}" le "${cpu_bar} s (1.5 × $(best_ssh_low dl_cpu) s)"
    goal_row "relay + agent + CLI RSS during wrk -c50 under 64 MiB (peak)" "${R[bowden.rss_c50]}" MiB 64 lt "64 MiB (ssh: ${R[sshnd.rss_c50]} MiB)"
    goal_row "relay + agent + CLI RSS after the ${BIG_MIB} MiB downloads under 64 MiB" "${R[bowden.rss_dl]}" MiB 64 lt "64 MiB (ssh: ${R[sshnd.rss_dl]} MiB)"
    goal_row "idle agent RSS under 16 MiB (attached, before any session)" "${idle0}" MiB 16 lt "16 MiB"
    goal_row "idle agent RSS under 16 MiB (after the whole run)" "${idle1}" MiB 16 lt "16 MiB"
    echo "GOALS ${GOALS_MET} ${GOALS_SEEN}"
  )"
  cat <<EOF
### Goals (issue 12)

| goal | Bowden | bar | Bowden / bar | verdict |
|---|---:|---:|---:|---|
$(grep '^|' <<<"${rows}")

$(awk '/^GOALS/ { printf "%d of %d goals met in this run.", $2, $3 }' <<<"${rows}")
Ratios below 1 are better for Bowden in the latency, CPU and RSS rows, above 1 in the
requests/s and MiB/s rows. The RSS rows sum VmRSS of bowden-relay, bowden-agent and
\`bowden open\` (the guard=octoprint tunnel's CLI, idle during these phases, is not counted).
Goals this script does not measure: relay memory per idle session at 10,000 sessions and
per attached agent at 2,000 agents (\`bench/scale.sh\`); buffered bytes per stalled session
and memory after bursts of 2,000 sessions (other bench/ scripts).
EOF
}

floor_row() {  # floor_row LABEL KEY
  local b="${R[bowden.$2]}" d="${R[tls2.$2]}" e="${R[e2e.$2]}" n="${R[sshnd.$2]}"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${b}" "${d}" "${e}" "${n}" \
    "$(ratio "${b}" "${n}")" "$(ratio "${d}" "${n}")" "$(ratio "${e}" "${n}")"
}

# The reference paths' table, when socat was there to measure them.
floors_table() {
  ((${#FLOORS[@]} > 0)) || return 0
  cat <<EOF
### What leaving gRPC could buy (reference paths, not Bowden)

(d) two mTLS hops through three socat processes, the middle one decrypting and
re-encrypting as the relay does; (e) end-to-end mTLS from the user's side to the
printer's, the middle one splicing TCP. Same certificates (TLS 1.3), 128 KiB buffers,
one select() loop per process: a simple form of the two data paths
docs/architecture.md weighs against gRPC streams. One connection only (socat forks a
process and makes a handshake per connection). Ratios are against ssh -tt -R.

| metric | Bowden | (d) two mTLS hops | (e) end-to-end mTLS | ssh -tt -R | Bowden / ssh -tt | (d) / ssh -tt | (e) / ssh -tt |
|---|---:|---:|---:|---:|---:|---:|---:|
$(floor_row "${BIG_MIB} MiB download, median of ${DOWNLOADS} (MiB/s)" dl)
$(floor_row "wrk -t1 -c1: requests/s" c1_rps)
$(floor_row "wrk -t1 -c1: p99 latency (ms)" c1_p99)
$(floor_row "tunnel CPU per GiB downloaded (CPU-s)" dl_cpu)
$(floor_row "tunnel CPU per request, wrk -c1 (CPU-µs)" c1_cpu)

EOF
}

report() {
  cat <<EOF
## Bowden benchmark results

- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- Machine: $(nproc) CPUs, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)
- Software: $(first_line nginx -v | sed 's/^nginx version: //'), $(first_line ssh -V | cut -d, -f1), $(first_line wrk -v | awk '{ print $1, $2 }'), $(first_line curl --version | awk '{ print $1, $2 }')
- Bowden: git ${GIT_REV}; binaries from bazel-bin/ ($( ((BUILD)) && echo "built by this run: bazel build, .bazelrc -O2" || echo "--no-build: as found"))
- Target: nginx, 1 process, access_log off, sendfile on; ${BIG_MIB} MiB random file and a 100-byte file
- ssh -R: OpenSSH client and a private sshd on loopback, cipher aes128-gcm@openssh.com;
  "ssh -N -R" is the usual command, "ssh -tt -R" the same forward with a tty session, which
  makes ssh and sshd set TCP_NODELAY (without it Nagle + delayed ACK add ~40 ms stalls)
- Load average before / after: ${LOAD_BEFORE} / ${LOAD_AFTER}; measuring took ${BENCH_SECONDS} s
- **CPU contention:** with $(nproc) CPUs, the load generator (curl/wrk), nginx and the
  tunnel's processes (bowden open + relay + agent, or ssh + sshd) all share the same cores,
  so every figure is a whole-system figure, not the tunnel's own ceiling. Other work on the
  machine during the run shows in the load average above.

| metric | direct | Bowden | ssh -N -R | ssh -tt -R (NODELAY) | Bowden / ssh -N | Bowden / ssh -tt | goal: Bowden ≥ best ssh |
|---|---:|---:|---:|---:|---:|---:|---|
$(row "${BIG_MIB} MiB download, median of ${DOWNLOADS} (MiB/s, higher is better)" dl goal)
$(row "wrk -t1 -c1: requests/s" c1_rps goal)
$(row "wrk -t1 -c1: p50 latency (ms)" c1_p50)
$(row "wrk -t1 -c1: p99 latency (ms)" c1_p99)
$(row "wrk -t2 -c50: requests/s" c50_rps goal)
$(row "wrk -t2 -c50: p50 latency (ms)" c50_p50)
$(row "wrk -t2 -c50: p99 latency (ms)" c50_p99)
$(row "new connection + GET, median of ${CONNECTS} (ms)" conn_p50)
$(row "new connection + GET, p99 of ${CONNECTS} (ms)" conn_p99)
$(row "tunnel CPU per GiB downloaded (CPU-s)" dl_cpu)
$(row "tunnel CPU per request, wrk -c1 (CPU-µs)" c1_cpu)
$(row "tunnel CPU per request, wrk -c50 (CPU-µs)" rq_cpu)
$(row "tunnel RSS, peak during wrk -c50 (MiB)" rss_c50)
$(row "tunnel RSS after the downloads (MiB)" rss_dl)

Each download run (MiB/s): direct ${R[direct.dl_all]}; Bowden ${R[bowden.dl_all]};
ssh -N -R ${R[ssh.dl_all]}; ssh -tt -R ${R[sshnd.dl_all]}.
Bowden's download CPU by process: ${R[bowden.dl_split]:-n/a}.
wrk duration ${WRK_DURATION} per run; latency percentiles from wrk --latency; new
connections are curl's time_total (connect, request, full response) of one fresh curl each.
"Tunnel CPU" is the user+system CPU time of bowden open + relay + agent (Bowden) or
ssh + sshd and its session processes (ssh -R) during that phase; it excludes curl, wrk and nginx.
"Tunnel RSS" is the sum of VmRSS of the same processes (for ssh: sshd's listener, its
per-connection processes for both sessions, and the ssh client).
Ratios are Bowden's figure divided by ssh's: above 1 is better for Bowden in the
throughput and requests/s rows, worse in the latency, setup-time, CPU and RSS rows.

$(goals_table)

$(floors_table)

### The HTTP guard's cost

The same Bowden tunnel to the same nginx, once as raw bytes (guard=none, the table
above) and once through the agent's OctoPrint guard (guard=octoprint, files under
/static/): every request parsed, its path canonicalised, judged against the role,
its head rebuilt, and its verdict sent to the relay's hash-chained audit log.

| metric | Bowden, guard=none | Bowden, guard=octoprint | guarded / raw |
|---|---:|---:|---:|
$(guard_row "${BIG_MIB} MiB download, median of ${DOWNLOADS} (MiB/s)" dl)
$(guard_row "wrk -t1 -c1: requests/s" c1_rps)
$(guard_row "wrk -t1 -c1: p50 latency (ms)" c1_p50)
$(guard_row "wrk -t2 -c50: requests/s" c50_rps)
$(guard_row "wrk -t2 -c50: p50 latency (ms)" c50_p50)
$(guard_row "wrk -t2 -c50: p99 latency (ms)" c50_p99)
$(guard_row "new connection + GET, median of ${CONNECTS} (ms)" conn_p50)
$(guard_row "tunnel CPU per request, wrk -c50 (CPU-µs)" rq_cpu)

EOF
  if ((${#NOTES[@]} > 0)); then
    echo "Problems seen during the run:"
    echo
    printf -- '- %s\n' "${NOTES[@]}"
  else
    echo "No errors: every download was complete, wrk reported no socket errors or non-2xx responses, and every new-connection request answered 200."
  fi
}
