#!/usr/bin/env bash
# Installs the Debian packages the local droplet (e2e/droplet/up.sh) and the Docker hosts beside it
# (second.sh, swarm.sh) need.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  docker.io          # dockerd + containerd + runc
  openssh-server     # the droplet's sshd
  openssh-client     # ssh, ssh-keygen
  debootstrap        # builds the base image from the Debian mirror
  debian-archive-keyring # debootstrap verifies the mirror with it
  gpgv
  git                # origin repo + git daemon
  curl               # health checks
  caddy              # the reverse proxy in front of the droplet's app (the handover)
  docker-compose     # a Compose project beside the supervised app (Compose v1, as Debian has it)
  ca-certificates
  procps
  iptables           # isolates the droplet behind the bastion in the connection tests
  jq                 # the benchmark's plain-ssh peer script
  docker-registry    # the swarm host's registry (e2e/droplet/swarm.sh)
  apache2-utils      # htpasswd -B: the registry's login
  iproute2           # ss, ip: the swarm host checks that it listens on loopback only
  zsh                # login shells the unit tests run remote command text under
  tcsh               # (__tests__/shell.test.ts): a deploy user's $SHELL need not be sh
  fish               # (fish and tcsh quote differently from sh)
  ksh
  shellcheck         # lints the remote scripts (src/remote/*.sh) and scripts/*.sh in the unit tests
)

die() { printf 'install-deps: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu only"

# Debian's docker-registry package comes with a service of its own (/etc/docker/registry, port
# 5000 on every address). swarm.sh runs its own registry on 127.0.0.1: where systemd runs, keep
# Debian's stopped and disabled.
disable_debian_registry() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  disable_debian_registry
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Nor is it started by the install (policy-rc.d: 101 = not allowed), unless the machine has a
# policy of its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  # Called with options, then the service's name and the action.
  # shellcheck disable=SC2016 # expanded by the policy script
  printf '#!/bin/sh\nfor a; do [ "$a" = docker-registry ] && exit 101; done\nexit 0\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f "$log" /usr/sbin/policy-rc.d' EXIT
fi
if ! apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "apt-get update failed; check /etc/apt/sources.list* and network access to the Debian mirror"
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "apt-get install ${missing[*]} failed (output above)"
fi
disable_debian_registry
echo "install-deps: done"
