# Shared by the benchmark scripts (sourced, not run): free ports, waiting for a
# listener, the local DNS server for sender checks, a private Postfix into a Maildir,
# and a Postroom server. The caller sets WORK (a scratch folder), PIDS (an array) and
# POSTFIX_DIR="" and traps EXIT with `bench_cleanup`.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listening on port $1" >&2
  return 1
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${POSTFIX_DIR:-}" ]; then postfix -c "$POSTFIX_DIR/conf" stop >/dev/null 2>&1 || true; fi
  sleep 0.3
  rm -rf "$WORK"
}

# A DNS server (dnslib) for the sender's domain: SPF passes for 127.0.0.1, no DMARC
# record. Sets DNS_PORT.
start_dns() {
  /usr/bin/python3 Tests/Integration/dnsserver.py '{"client.test": [["TXT", "v=spf1 ip4:127.0.0.0/8 -all"]], "localhost": [["A", "127.0.0.1"]]}' \
    >"$WORK/dns.port" 2>"$WORK/dns.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$WORK/dns.port" ] && break; sleep 0.05; done
  DNS_PORT=$(cat "$WORK/dns.port")
}

# A Postroom server with one inbox for RCPT, resolving through the local DNS server.
# Usage: start_postroom NAME [VAR=value...]; sets STARTED_PORT, STARTED_HTTP and
# STARTED_DATA (not in a subshell, so PIDS keeps the server).
start_postroom() {
  local name=$1; shift
  STARTED_DATA="$WORK/postroom-$name"
  STARTED_PORT=$(free_port); STARTED_HTTP=$(free_port)
  "$POSTROOM_BIN" inbox create Bench --address "$RCPT" --data-dir "$STARTED_DATA" >/dev/null
  env "$@" POSTROOM_OUTBOUND_RESOLVER="127.0.0.1:$DNS_PORT" \
    "$POSTROOM_BIN" serve --data-dir "$STARTED_DATA" --smtp-port "$STARTED_PORT" --http-port "$STARTED_HTTP" >"$WORK/postroom-$name.log" 2>&1 &
  PIDS+=($!)
  wait_port "$STARTED_PORT"
}

# A private Postfix on 127.0.0.1:PF_PORT delivering mail for DOMAIN into the Maildir
# $POSTFIX_DIR/mail/inbox/ (fsync before the 250 and after each delivery, as shipped).
start_postfix() {
  POSTFIX_DIR="$WORK/postfix"
  PF_PORT=$(free_port)
  mkdir -p "$POSTFIX_DIR"/{conf,queue,data,mail,log}
  chown postfix "$POSTFIX_DIR/data"
  chown nobody "$POSTFIX_DIR/mail"
  cat >"$POSTFIX_DIR/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $POSTFIX_DIR/queue
data_directory = $POSTFIX_DIR/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.bench.localhost
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_base = $POSTFIX_DIR/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
maillog_file = $POSTFIX_DIR/log/maillog
maillog_file_prefixes = $POSTFIX_DIR/log
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
CF
  sed -e 's/^smtp\( *\)inet/127.0.0.1:'"$PF_PORT"'\1inet/' \
      -e 's/^\([a-z0-9:.]* *\(inet\|unix\|unix-dgram\|fifo\|pass\) *[-yn] *[-yn]\) *y /\1 n /' \
      /etc/postfix/master.cf >"$POSTFIX_DIR/conf/master.cf"
  postfix -c "$POSTFIX_DIR/conf" set-permissions >/dev/null 2>&1 || true
  if ! script -qec "postfix -c $POSTFIX_DIR/conf start" /dev/null >"$WORK/postfix-start.log" 2>&1; then
    cat "$WORK/postfix-start.log" >&2
    return 1
  fi
  wait_port "$PF_PORT"
}

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
