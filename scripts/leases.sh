# Sourced by scripts/engines.sh and scripts/podman.sh: process liveness and the leases test runs hold on a service
# they share (one file per holder's pid under $RUN/leases).

# A live process (a zombie, not yet reaped by its new parent, counts as gone).
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# How many leases under $RUN/leases belong to live processes; the others are removed.
live_leases() {
  local f n=0
  for f in "$RUN"/leases/*; do
    [ -e "$f" ] || continue
    if alive "$(basename "$f")"; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo $n
}
