#!/usr/bin/env bash
# Two more OpenSSH servers beside the local droplet, for the connection-option tests:
#  - a bastion (jump host) on 127.0.0.1:${HERMES_BASTION_PORT:-2223} for user `jump` (key or
#    password), which may forward TCP to the droplet;
#  - a "legacy" sshd on 127.0.0.1:${HERMES_LEGACY_PORT:-2224} for `core` that allows password
#    login and speaks only an old cipher (aes256-cbc).
# `bastion.sh up` starts them and writes $STATE/bastion.json; `isolate on|off` makes the droplet's
# own sshd reachable only through the bastion (an iptables rule on loopback: only the bastion's
# forwarding, which runs as user `jump`, may connect to it); `down` stops them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

BASTION_PORT="${HERMES_BASTION_PORT:-2223}"
LEGACY_PORT="${HERMES_LEGACY_PORT:-2224}"
DIR="$STATE/bastion"
JUMP_USER=jump
JUMP_PASSWORD='jump-pass-4242'
CORE_PASSWORD='core-pass-4242'

start_server() { # name port config-lines
  local name=$1 port=$2 extra=$3 conf="$DIR/$1.conf" pidfile="$DIR/$1.pid"
  [ -f "$DIR/${name}_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "hermes-$name" -f "$DIR/${name}_host_ed25519_key"
  cat >"$conf" <<CONF
ListenAddress $LOOPBACK
Port $port
HostKey $DIR/${name}_host_ed25519_key
PidFile $pidfile
UsePAM no
KbdInteractiveAuthentication no
PermitRootLogin no
PrintMotd no
LogLevel VERBOSE
$extra
CONF
  /usr/sbin/sshd -t -f "$conf" || die "sshd rejected $conf"
  if ! pid_alive "$pidfile" "$conf"; then
    port_open "$port" && die "port $port is taken by another process"
    /usr/sbin/sshd -f "$conf" -E "$DIR/$name.log" </dev/null >/dev/null 2>&1 || die "sshd $name failed; see $DIR/$name.log"
  fi
  wait_for 10 "sshd $name on $LOOPBACK:$port" "See $DIR/$name.log." port_open "$port"
}

fingerprint() { ssh-keygen -lf "$DIR/$1_host_ed25519_key.pub" | awk '{ print $2 }'; }

isolate_rule() { echo OUTPUT -o lo -p tcp --dport "$SSH_PORT" -m owner ! --uid-owner "$JUMP_USER" -j REJECT --reject-with tcp-reset; }

case "${1:-up}" in
  up)
    [ -f "$STATE/env" ] || die "run e2e/droplet/up.sh first"
    mkdir -p "$DIR" /run/sshd
    id "$JUMP_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$JUMP_USER"
    echo "$JUMP_USER:$JUMP_PASSWORD" | chpasswd
    # Password login for core on the legacy server only (the droplet's own sshd refuses passwords).
    echo "$SSH_USER:$CORE_PASSWORD" | chpasswd
    [ -f "$KEYS_DIR/id_jump" ] || ssh-keygen -q -t ed25519 -N '' -C hermes-jump -f "$KEYS_DIR/id_jump"
    install -d -o "$JUMP_USER" -g "$JUMP_USER" -m 700 "/home/$JUMP_USER/.ssh"
    install -o "$JUMP_USER" -g "$JUMP_USER" -m 600 "$KEYS_DIR/id_jump.pub" "/home/$JUMP_USER/.ssh/authorized_keys"
    start_server bastion "$BASTION_PORT" "AllowUsers $JUMP_USER
PasswordAuthentication yes
AllowTcpForwarding yes
PermitOpen $LOOPBACK:$SSH_PORT
ForceCommand /bin/false"
    start_server legacy "$LEGACY_PORT" "AllowUsers $SSH_USER
PasswordAuthentication yes
PubkeyAuthentication yes
Ciphers aes256-cbc"
    cat >"$STATE/bastion.json" <<JSON
{
  "BASTION_PORT": "$BASTION_PORT",
  "BASTION_USER": "$JUMP_USER",
  "BASTION_KEY_PATH": "$KEYS_DIR/id_jump",
  "BASTION_PASSWORD": "$JUMP_PASSWORD",
  "BASTION_FINGERPRINT": "$(fingerprint bastion)",
  "LEGACY_PORT": "$LEGACY_PORT",
  "LEGACY_FINGERPRINT": "$(fingerprint legacy)",
  "CORE_PASSWORD": "$CORE_PASSWORD"
}
JSON
    log "bastion on $LOOPBACK:$BASTION_PORT, legacy sshd on $LOOPBACK:$LEGACY_PORT"
    ;;
  isolate)
    # shellcheck disable=SC2046
    case "${2:-on}" in
      on) iptables -C $(isolate_rule) 2>/dev/null || iptables -I $(isolate_rule) ;;
      off) while iptables -C $(isolate_rule) 2>/dev/null; do iptables -D $(isolate_rule); done ;;
    esac
    ;;
  down)
    "$0" isolate off
    for name in bastion legacy; do stop_pidfile "$DIR/$name.pid" "$DIR/$name.conf" || true; done
    # Back to no password for core, as up.sh leaves it.
    usermod -p '*' "$SSH_USER"
    ;;
  *) die "usage: bastion.sh up|isolate on|off|down" ;;
esac
