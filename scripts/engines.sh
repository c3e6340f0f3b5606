#!/usr/bin/env bash
# Two extra Docker engines on this machine, so tests can drive several "hosts": berth-e1 on a unix socket and
# berth-e2 on TCP with TLS client certificates. Each has its own bridge, data root, exec root (hence its own managed
# containerd), pidfile, address pool and engine ID. The script creates and removes only br-berth-e1, br-berth-e2 and
# the iptables chain BERTH-E (one jump from FORWARD); it never touches the main engine or docker0. Two dockerd traps
# that do delete docker0: `--bridge=none`, and (20.10) restarting an engine that has a default-address-pool unless
# live-restore is on; hence start and restart these engines only through this script.
#
#   bash scripts/engines.sh start  [--lease PID] [e1|e2 ...]   start what is not running, wait until it answers
#   bash scripts/engines.sh stop   [--lease PID] [e1|e2 ...]   SIGTERM by pidfile (SIGKILL after 15 s), remove the bridges
#   bash scripts/engines.sh status [e1|e2 ...]                 print each engine's state; exit 1 if one is down
#
# Leases let concurrent test runs share the engines: `start --lease PID` records PID as a user (and, when it had to
# start an engine, marks the engines as started by a test run); `stop --lease PID` drops that lease and stops only
# engines a test run started, once no live lease remains. Without --lease, start and stop act at once (by hand).
# Logs: /var/log/berth-engine-eN.log. TLS material (generated once): /var/lib/berth-engines/tls.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then exec sudo -n bash "$0" "$@"; fi
  echo "berth engines: must run as root (or with passwordless sudo)" >&2
  exit 1
fi

DATA=/var/lib/berth-engines
RUN=/run/berth-engines
TLS=$DATA/tls
E2_PORT=23760
DEADLINE_S=30
# shellcheck source=scripts/leases.sh
. "$(dirname "$0")/leases.sh"

bridge_of() { echo "br-berth-$1"; }
bridge_cidr() { case $1 in e1) echo 10.99.1.1/24 ;; e2) echo 10.99.2.1/24 ;; esac; }
pool_of() { case $1 in e1) echo 10.101.0.0/16 ;; e2) echo 10.102.0.0/16 ;; esac; }
subnet_of() { case $1 in e1) echo 10.99.1.0/24 ;; e2) echo 10.99.2.0/24 ;; esac; }
pidfile_of() { echo "$RUN/$1/docker.pid"; }
log_of() { echo "/var/log/berth-engine-$1.log"; }
host_of() { case $1 in e1) echo "unix://$RUN/e1/docker.sock" ;; e2) echo "tcp://127.0.0.1:$E2_PORT" ;; esac; }

# GET on one extra engine's API (never the main one's): curl is quicker than the docker CLI when polling.
api() {
  local e=$1 path=$2
  if [ "$e" = e2 ]; then
    curl -sf --max-time 2 --cacert "$TLS/ca.pem" --cert "$TLS/cert.pem" --key "$TLS/key.pem" "https://127.0.0.1:$E2_PORT$path"
  else
    curl -sf --max-time 2 --unix-socket "$RUN/$e/docker.sock" "http://localhost$path"
  fi
}

pid_of() {
  local f; f=$(pidfile_of "$1")
  [ -s "$f" ] || return 1
  local p; p=$(cat "$f")
  alive "$p" && grep -q dockerd "/proc/$p/comm" 2>/dev/null && echo "$p"
}

answers() { [ "$(api "$1" /_ping 2>/dev/null)" = OK ]; }

# CA, server certificate (SAN IP:127.0.0.1) and client certificate (clientAuth), once; reused afterwards.
ensure_tls() {
  [ -s "$TLS/ca.pem" ] && [ -s "$TLS/server-cert.pem" ] && [ -s "$TLS/cert.pem" ] && [ -s "$TLS/key.pem" ] && return 0
  local tmp; tmp=$(mktemp -d "$DATA/tls.XXXXXX")
  (
    cd "$tmp"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca-key.pem -out ca.pem -days 3650 -subj "/CN=berth-engines test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -new "${ec[@]}" -keyout server-key.pem -out server.csr -subj "/CN=berth-e2" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -new "${ec[@]}" -keyout key.pem -out client.csr -subj "/CN=berth-test-client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ./*.srl
    chmod 0600 ca-key.pem server-key.pem key.pem
  )
  rm -rf "$TLS"
  mv "$tmp" "$TLS"
}

# Container traffic within one extra engine (bridge subnet + its pool). br_netfilter sends bridged frames through
# FORWARD, whose policy the main engine sets to DROP; the main engine's own rules only cover its bridges. Traffic
# between the two extra engines stays dropped, as between two real hosts. Own chain BERTH-E, one jump from FORWARD.
ensure_forward() {
  command -v iptables >/dev/null 2>&1 || return 0
  iptables -N BERTH-E 2>/dev/null || iptables -F BERTH-E
  local e
  for e in e1 e2; do
    local s d
    for s in "$(subnet_of $e)" "$(pool_of $e)"; do
      for d in "$(subnet_of $e)" "$(pool_of $e)"; do
        iptables -A BERTH-E -s "$s" -d "$d" -j ACCEPT
      done
    done
  done
  iptables -C FORWARD -j BERTH-E 2>/dev/null || iptables -I FORWARD -j BERTH-E
}

drop_forward() {
  command -v iptables >/dev/null 2>&1 || return 0
  while iptables -D FORWARD -j BERTH-E 2>/dev/null; do :; done
  iptables -F BERTH-E 2>/dev/null || true
  iptables -X BERTH-E 2>/dev/null || true
}

ensure_bridge() {
  local br; br=$(bridge_of "$1")
  ip link show "$br" >/dev/null 2>&1 || ip link add "$br" type bridge
  ip -4 addr show dev "$br" | grep -q "inet $(bridge_cidr "$1") " || ip addr add "$(bridge_cidr "$1")" dev "$br"
  ip link set "$br" up
}

write_config() {
  printf '{"deprecated-key-path": "%s", "live-restore": %s}\n' "$DATA/$1/key.json" "$2" >"$DATA/$1.json"
}

# Reloads the engine's config with live-restore off (SIGHUP; dockerd handles it once its API answers) and waits for it.
no_live_restore() {
  local e=$1 p end=$((SECONDS + DEADLINE_S))
  write_config "$e" false
  p=$(pid_of "$e")
  kill -HUP "$p"
  until api "$e" /info 2>/dev/null | grep -q '"LiveRestoreEnabled":false'; do
    if [ $SECONDS -ge $end ]; then echo "berth engines: berth-$e did not reload its config (live-restore still on)" >&2; return 1; fi
    sleep 0.02
  done
}

launch() {
  local e=$1
  mkdir -p "$DATA/$e" "$RUN/$e"
  ensure_bridge "$e"
  # Own daemon.json: ignores /etc/docker/daemon.json and gives the engine its own key.json, hence its own engine ID.
  # It starts with live-restore on: dockerd 20.10, restarting with a default-address-pool and a stored "bridge"
  # network, deletes the interface named docker0 (the MAIN engine's bridge) unless live-restore is on. After start,
  # no_live_restore turns it off again by a config reload, so stop still stops the containers.
  write_config "$e" true
  local args=(
    --config-file "$DATA/$e.json"
    --data-root "$DATA/$e" --exec-root "$RUN/$e" --pidfile "$(pidfile_of "$e")"
    --bridge "$(bridge_of "$e")" --iptables=false --ip-masq=false
    --default-address-pool "base=$(pool_of "$e"),size=24"
    --label "berth.test-engine=berth-$e" --shutdown-timeout 2
  )
  if [ "$e" = e2 ]; then
    args+=(-H "tcp://127.0.0.1:$E2_PORT" --tlsverify --tlscacert "$TLS/ca.pem" --tlscert "$TLS/server-cert.pem" --tlskey "$TLS/server-key.pem")
  else
    args+=(-H "$(host_of "$e")")
  fi
  rm -f "$(pidfile_of "$e")"
  # New session, no inherited lock fd (9) or caller pipes: the caller's exit neither kills nor waits on it.
  setsid dockerd "${args[@]}" >>"$(log_of "$e")" 2>&1 </dev/null 9>&- &
}

wait_up() {
  local e=$1 end=$((SECONDS + DEADLINE_S))
  until answers "$e"; do
    if [ $SECONDS -ge $end ]; then
      echo "berth engines: berth-$e did not answer within ${DEADLINE_S}s; last lines of $(log_of "$e"):" >&2
      tail -20 "$(log_of "$e")" >&2
      return 1
    fi
    sleep 0.02
  done
}

# SIGTERM to every named engine at once. dockerd stops its containers, logs "Daemon shutdown complete", then spends
# ~2 s polling its managed containerd once a second: once that line is logged, the dockerd is SIGKILLed and its
# containerd (pidfile under the exec root) SIGTERMed directly. SIGKILL for a dockerd still alive after 15 s.
kill_engines() {
  local e p pids=() offs=()
  for e in "$@"; do
    if p=$(pid_of "$e"); then
      offs+=("$(stat -c %s "$(log_of "$e")" 2>/dev/null || echo 0)")
      kill -TERM "$p" 2>/dev/null || true
      pids+=("$e:$p")
    fi
  done
  local end=$((SECONDS + 15)) i
  for i in ${pids[@]+"${!pids[@]}"}; do
    e=${pids[$i]%%:*}; p=${pids[$i]#*:}
    while alive "$p"; do
      if tail -c +"$((offs[i] + 1))" "$(log_of "$e")" 2>/dev/null | grep -q 'Daemon shutdown complete'; then
        kill -KILL "$p" 2>/dev/null || true
      elif [ $SECONDS -ge $end ]; then
        echo "berth engines: berth-$e (pid $p) still running 15 s after SIGTERM; SIGKILL" >&2
        kill -KILL "$p" 2>/dev/null || true
      fi
      sleep 0.05
    done
  done
  for e in "$@"; do
    rm -f "$(pidfile_of "$e")"
    local cpid="$RUN/$e/containerd/containerd.pid" c
    if [ -s "$cpid" ] && c=$(cat "$cpid") && alive "$c" && grep -q containerd "/proc/$c/comm" 2>/dev/null; then
      kill -TERM "$c" 2>/dev/null || true
      local cend=$((SECONDS + 10))
      while alive "$c" && [ $SECONDS -lt $cend ]; do sleep 0.02; done
      if alive "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
    fi
    local br; br=$(bridge_of "$e")
    if ip link show "$br" >/dev/null 2>&1; then ip link del "$br"; fi
  done
}

cmd=${1:-status}; shift || true
lease=""
engines=()
while [ $# -gt 0 ]; do
  case $1 in
    --lease) lease=$2; shift 2 ;;
    e1|e2) engines+=("$1"); shift ;;
    *) echo "berth engines: unknown argument $1 (usage: engines.sh start|stop|status [--lease PID] [e1|e2 ...])" >&2; exit 2 ;;
  esac
done
[ ${#engines[@]} -gt 0 ] || engines=(e1 e2)

mkdir -p "$DATA" "$RUN/leases"
exec 9>"$RUN/lock"
flock 9

case $cmd in
  start)
    start_s=$(date +%s.%N)
    needed=()
    had_docker0=no
    if ip link show docker0 >/dev/null 2>&1; then had_docker0=yes; fi
    for e in "${engines[@]}"; do
      if pid_of "$e" >/dev/null && answers "$e"; then continue; fi
      needed+=("$e")
    done
    if [ ${#needed[@]} -gt 0 ]; then
      case " ${needed[*]} " in *" e2 "*) ensure_tls ;; esac
      for e in "${needed[@]}"; do
        if pid_of "$e" >/dev/null; then kill_engines "$e"; fi # running but not answering: restart it
        launch "$e"
      done
      ensure_forward
      for e in "${needed[@]}"; do wait_up "$e"; done
      for e in "${needed[@]}"; do no_live_restore "$e"; done
      if [ "$had_docker0" = yes ] && ! ip link show docker0 >/dev/null 2>&1; then
        echo "berth engines: docker0 (the main engine's bridge) disappeared while starting ${needed[*]}: restart the main dockerd" >&2
        exit 1
      fi
      echo "berth engines: started ${needed[*]} in $(awk -v s="$start_s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s" >&2
      if [ -n "$lease" ]; then touch "$RUN/started-by-tests"; else rm -f "$RUN/started-by-tests"; fi
    elif [ -z "$lease" ]; then
      rm -f "$RUN/started-by-tests" # claimed by hand: no test run stops them any more
    fi
    if [ -n "$lease" ]; then : >"$RUN/leases/$lease"; fi
    ;;
  stop)
    if [ -n "$lease" ]; then
      rm -f "$RUN/leases/$lease"
      [ -e "$RUN/started-by-tests" ] || exit 0
      [ "$(live_leases)" = 0 ] || exit 0
    fi
    kill_engines "${engines[@]}"
    if ! pid_of e1 >/dev/null && ! pid_of e2 >/dev/null; then
      drop_forward
      rm -f "$RUN/started-by-tests" "$RUN"/leases/*
    fi
    ;;
  status)
    rc=0
    for e in "${engines[@]}"; do
      if p=$(pid_of "$e"); then
        if answers "$e"; then state="running pid $p, answers on $(host_of "$e")"; else state="pid $p but not answering on $(host_of "$e")"; rc=1; fi
      else
        state="stopped"; rc=1
      fi
      echo "berth-$e: $state; bridge $(bridge_of "$e") $(bridge_cidr "$e"); pool $(pool_of "$e"); log $(log_of "$e")"
    done
    [ -e "$RUN/started-by-tests" ] && echo "started by a test run; live leases: $(live_leases)"
    exit $rc
    ;;
  *)
    echo "berth engines: unknown command $cmd (usage: engines.sh start|stop|status [--lease PID] [e1|e2 ...])" >&2
    exit 2
    ;;
esac
