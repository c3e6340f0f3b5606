#!/usr/bin/env bash
# Podman as a further container engine for the tests and benches: `podman system service` on a private socket with
# its own storage, run root, containers.conf and network config directory, so it touches neither /etc/containers nor
# the Docker engines. Its networks come from 10.103.0.0/16 and 10.104.0.0/16 (no overlap with the Docker engines').
#
#   bash scripts/podman.sh start  [--lease PID]   start the service unless it answers, wait until it does
#   bash scripts/podman.sh stop   [--lease PID]   SIGTERM by pid (SIGKILL after 10 s)
#   bash scripts/podman.sh status                 print the state; exit 1 when it is down
#   bash scripts/podman.sh env                    print the environment the podman CLI needs to see this service's state
#
# Leases as in scripts/engines.sh: `start --lease PID` records a test run as a user; `stop --lease PID` drops it and
# stops the service only when a test run started it and no live lease remains. Containers outlive the service
# (conmon holds them); tests remove their own by label. Log: /var/log/berth-podman.log.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then exec sudo -n bash "$0" "$@"; fi
  echo "berth podman: must run as root (or with passwordless sudo)" >&2
  exit 1
fi

DATA=/var/lib/berth-podman
RUN=/run/berth-podman
SOCK=$RUN/podman.sock
CONF=$DATA/containers.conf
LOG=/var/log/berth-podman.log
PIDFILE=$RUN/service.pid
DEADLINE_S=30
# shellcheck source=scripts/leases.sh
. "$(dirname "$0")/leases.sh"
PODMAN=(podman --root "$DATA/storage" --runroot "$RUN/run" --tmpdir "$RUN/tmp")

pid_of() {
  [ -s "$PIDFILE" ] || return 1
  local p; p=$(cat "$PIDFILE")
  alive "$p" && grep -q podman "/proc/$p/comm" 2>/dev/null && echo "$p"
}
answers() { [ "$(curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]; }

# These machines' hard limits are below Podman's default rlimits (containers would fail "error setting rlimit type
# 7"); init: true needs catatonit; no systemd here: cgroupfs and a file events log.
write_config() {
  mkdir -p "$DATA/networks" "$RUN/run" "$RUN/tmp" "$RUN/leases"
  cat >"$CONF" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
init_path = "$(command -v catatonit || echo /usr/bin/catatonit)"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$RUN/events.log"
[network]
network_backend = "netavark"
network_config_dir = "$DATA/networks"
default_subnet = "10.103.0.0/24"
default_subnet_pools = [{"base" = "10.104.0.0/16", "size" = 24}]
EOF
}

launch() {
  write_config
  rm -f "$SOCK"
  # New session, no inherited lock fd (9) or caller pipes: the caller's exit neither kills nor waits on it.
  CONTAINERS_CONF=$CONF setsid "${PODMAN[@]}" system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  local end=$((SECONDS + DEADLINE_S))
  until answers; do
    if [ $SECONDS -ge $end ] || ! pid_of >/dev/null; then
      echo "berth podman: the service did not answer on $SOCK within ${DEADLINE_S}s; last lines of $LOG:" >&2
      tail -20 "$LOG" >&2
      return 1
    fi
    sleep 0.02
  done
}

kill_service() {
  local p
  p=$(pid_of) || { rm -f "$PIDFILE"; return 0; }
  kill -TERM "$p" 2>/dev/null || true
  local end=$((SECONDS + 10))
  while alive "$p" && [ $SECONDS -lt $end ]; do sleep 0.02; done
  if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  rm -f "$PIDFILE" "$SOCK"
}

cmd=${1:-status}; shift || true
lease=""
while [ $# -gt 0 ]; do
  case $1 in
    --lease) lease=$2; shift 2 ;;
    *) echo "berth podman: unknown argument $1 (usage: podman.sh start|stop|status|env [--lease PID])" >&2; exit 2 ;;
  esac
done

mkdir -p "$DATA" "$RUN/leases"
exec 9>"$RUN/lock"
flock 9

case $cmd in
  start)
    command -v podman >/dev/null && command -v catatonit >/dev/null || {
      echo "berth podman: podman and catatonit are not installed (bash scripts/provision.sh installs them)" >&2; exit 1; }
    if pid_of >/dev/null && answers; then
      [ -n "$lease" ] || rm -f "$RUN/started-by-tests"
    else
      start_s=$(date +%s.%N)
      kill_service
      launch
      echo "berth podman: started on $SOCK in $(awk -v s="$start_s" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s" >&2
      if [ -n "$lease" ]; then touch "$RUN/started-by-tests"; else rm -f "$RUN/started-by-tests"; fi
    fi
    if [ -n "$lease" ]; then : >"$RUN/leases/$lease"; fi
    ;;
  stop)
    if [ -n "$lease" ]; then
      rm -f "$RUN/leases/$lease"
      [ -e "$RUN/started-by-tests" ] || exit 0
      [ "$(live_leases)" = 0 ] || exit 0
    fi
    kill_service
    rm -f "$RUN/started-by-tests" "$RUN"/leases/*
    ;;
  status)
    if p=$(pid_of); then
      if answers; then echo "berth-podman: running pid $p, answers on unix://$SOCK"; else echo "berth-podman: pid $p but not answering on unix://$SOCK"; exit 1; fi
    else
      echo "berth-podman: stopped"; exit 1
    fi
    [ -e "$RUN/started-by-tests" ] && echo "started by a test run; live leases: $(live_leases)"
    exit 0
    ;;
  env)
    printf 'CONTAINERS_CONF=%s\nPODMAN_ARGS="%s"\n' "$CONF" "${PODMAN[*]:1}"
    ;;
  *)
    echo "berth podman: unknown command $cmd (usage: podman.sh start|stop|status|env [--lease PID])" >&2
    exit 2
    ;;
esac
