#!/usr/bin/env bash
# Provisions what berth's tests, benchmarks and `npm start` need on a fresh Debian machine: the npm dependencies,
# Docker engine (docker.io), busybox-static (to build images locally, no registry), git, Podman; starts dockerd when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

# The project's own dependencies, so `npm start` and `npm test` work right after a clone.
if [ ! -x node_modules/.bin/tsx ] || [ ! -x node_modules/.bin/vitest ] || [ ! -x node_modules/.bin/tsc ]; then
  echo "berth: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/lib/git-core/git-http-backend ] || need+=(git)
# scripts/engines.sh (the two extra test engines): bridges, TLS certificates, readiness polls.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
# test/helpers/registry.ts (a real image registry for the registry tests and benches): distribution and htpasswd.
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
# operator/secrets specs (age-encrypted secrets in git): the age CLI makes their keys and encrypted files.
command -v age >/dev/null 2>&1 || need+=(age)
command -v age-keygen >/dev/null 2>&1 || need+=(age)
# test/metrics.test.ts: `promtool check metrics` on a live /metrics (Debian's prometheus package has promtool).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# test/dashboard.test.ts: the dashboard in a real browser (playwright-core drives Debian's chromium; it never downloads one).
[ -x /usr/bin/chromium ] || need+=(chromium)

# scripts/podman.sh (Podman as a second engine, the podman test project): its API service, catatonit for init: true,
# netavark and aardvark-dns for networks where replicas find each other by name.
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v catatonit >/dev/null 2>&1 || need+=(catatonit)
[ -x /usr/lib/podman/netavark ] || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || need+=(aardvark-dns)

# Root runs apt and dockerd itself; another user needs passwordless sudo (as on GitHub's runners).
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$SUDO" = none ]; then
    echo "berth: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "berth: installing ${need[*]} (apt)" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi

if ! docker version >/dev/null 2>&1; then
  if [ "$SUDO" = none ]; then
    echo "berth: no Docker engine answers on /var/run/docker.sock and this user cannot start one" >&2
    exit 1
  fi
  echo "berth: starting dockerd (log: /var/log/dockerd.log)" >&2
  $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &'
  for _ in $(seq 1 120); do
    docker version >/dev/null 2>&1 && break
    sleep 0.25
  done
  docker version >/dev/null 2>&1 || { echo "berth: dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi

# A local base image (no registry is reachable here): busybox-static in a scratch image.
# Used by the bundled examples, the tests and the benchmarks.
if ! docker image inspect berth-local/busybox:1 >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\nCMD ["sh"]\n' >"$ctx/Dockerfile"
  docker build -q -t berth-local/busybox:1 "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "berth: built base image berth-local/busybox:1" >&2
fi

# The dashboard's assets (ui/dist), rebuilt when a source is newer (esbuild: a second or less).
node_modules/.bin/tsx scripts/build-ui.ts >&2

# The operator bundled into dist/ (bin/berth.js runs it while it is newer than every source; esbuild: well under a second).
node_modules/.bin/tsx scripts/build-operator.ts >&2
