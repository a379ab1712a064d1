#!/usr/bin/env bash
# Installs the Debian packages the local droplet (e2e/droplet/up.sh) needs.
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
  ca-certificates
  procps
  iptables           # isolates the droplet behind the bastion in the connection tests
  jq                 # the benchmark's plain-ssh peer script
)

die() { printf 'install-deps: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu only"

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "apt-get update failed; check /etc/apt/sources.list* and network access to the Debian mirror"
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "apt-get install ${missing[*]} failed (output above)"
fi
echo "install-deps: done"
