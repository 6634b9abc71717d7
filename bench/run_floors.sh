# bench/run.sh's reference paths (d) and (e): the socat chains that stand in
# for the two data paths docs/architecture.md weighs against gRPC streams
# ("Why the data path stays on gRPC"). Sourced by run.sh once nginx and the
# bench PKI exist; uses its start, free_port, wait_for, http_ok, show_logs,
# die, say, PKI and NGINX_PORT. Sets FLOORS (the paths it started: tls2 and
# e2e, or none without socat) and FLOOR_NOTE, and for each chain its user-side
# port and the PIDs of its three processes. Not meant to be run on its own.
# shellcheck shell=bash


# start_socat NAME ARGS...: one socat with 128 KiB buffers (Bowden's Chunk);
# sets LAST_PID.
start_socat() {
  local name="$1"
  shift
  start "${name}" socat -b 131072 "$@"
}
# TLS options: the bench PKI's certificates, peers verified against its CA.
# tls_opts CERT_NAME [to-agent]: "to-agent" for a client of the printer
# side, whose certificate is a client certificate (a Bowden agent dials out),
# which OpenSSL's purpose check refuses from a server; that end skips
# verification (a handshake is not part of what the floors measure).
tls_opts() {
  printf 'cert=%s/%s.crt,key=%s/%s.key,cafile=%s/ca.crt,verify=%d,nodelay' \
    "${PKI}" "$1" "${PKI}" "$1" "${PKI}" "$([[ "${2:-}" == to-agent ]] && echo 0 || echo 1)"
}
FLOORS=()
FLOOR_NOTE=""
if command -v socat >/dev/null; then
  say "Starting the reference floors (socat): two mTLS hops, and end-to-end mTLS"
  # (d): the printer side, the middle (decrypts and re-encrypts), the user side.
  D_AGENT_PORT="$(free_port)"
  start_socat tls2-agent "OPENSSL-LISTEN:${D_AGENT_PORT},bind=127.0.0.1,reuseaddr,fork,$(tls_opts prusa-01)" \
    "TCP:127.0.0.1:${NGINX_PORT},nodelay"
  D_AGENT_PID="${LAST_PID}"
  D_RELAY_PORT="$(free_port)"
  start_socat tls2-relay "OPENSSL-LISTEN:${D_RELAY_PORT},bind=127.0.0.1,reuseaddr,fork,$(tls_opts relay)" \
    "OPENSSL:127.0.0.1:${D_AGENT_PORT},$(tls_opts relay to-agent)"
  D_RELAY_PID="${LAST_PID}"
  D_USER_PORT="$(free_port)"
  start_socat tls2-user "TCP-LISTEN:${D_USER_PORT},bind=127.0.0.1,reuseaddr,fork,nodelay" \
    "OPENSSL:127.0.0.1:${D_RELAY_PORT},$(tls_opts alice)"
  D_USER_PID="${LAST_PID}"
  # (e): the user's TLS goes through the middle to the printer side.
  E_AGENT_PORT="$(free_port)"
  start_socat e2e-agent "OPENSSL-LISTEN:${E_AGENT_PORT},bind=127.0.0.1,reuseaddr,fork,$(tls_opts prusa-01)" \
    "TCP:127.0.0.1:${NGINX_PORT},nodelay"
  E_AGENT_PID="${LAST_PID}"
  E_RELAY_PORT="$(free_port)"
  start_socat e2e-relay "TCP-LISTEN:${E_RELAY_PORT},bind=127.0.0.1,reuseaddr,fork,nodelay" \
    "TCP:127.0.0.1:${E_AGENT_PORT},nodelay"
  E_RELAY_PID="${LAST_PID}"
  E_USER_PORT="$(free_port)"
  start_socat e2e-user "TCP-LISTEN:${E_USER_PORT},bind=127.0.0.1,reuseaddr,fork,nodelay" \
    "OPENSSL:127.0.0.1:${E_RELAY_PORT},$(tls_opts alice to-agent)"
  E_USER_PID="${LAST_PID}"
  wait_for 10 "${D_USER_PID}" "the tls2 socat chain" http_ok "http://127.0.0.1:${D_USER_PORT}/small.txt" ||
    { show_logs tls2-user tls2-relay tls2-agent; die "the tls2 socat chain did not come up"; }
  wait_for 10 "${E_USER_PID}" "the e2e socat chain" http_ok "http://127.0.0.1:${E_USER_PORT}/small.txt" ||
    { show_logs e2e-user e2e-relay e2e-agent; die "the e2e socat chain did not come up"; }
  FLOORS=(tls2 e2e)
else
  FLOOR_NOTE="socat is not installed: the reference paths (d) and (e) were not measured (apt-get install socat)"
fi
