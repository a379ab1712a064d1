# shellcheck shell=bash
# An extra Docker host on this machine, beside the local droplet (sourced after lib.sh by
# second.sh and swarm.sh, not run): its own dockerd, its own sshd for `core` whose sessions talk
# to that dockerd, the first engine's baseline image copied in, and the JSON file tests read.
# The caller sets, before calling any of it:
#   E_DIR            its state dir: logs, pidfiles, daemon.json, host keys, known_hosts, ...
#   E_LABEL          how messages name its daemons ("dockerd $E_LABEL", "sshd $E_LABEL")
#   E_ENGINE         how messages name its engine ("the $E_ENGINE")
#   E_HOST_NAME      how its sshd config names the host
#   E_SCRIPT         the script that runs it, for "run ... first" hints
#   E_DATA_ROOT E_EXEC_ROOT E_DOCKER_HOST E_CONTAINERD_NS E_CGROUP_PARENT   its dockerd's own
#   E_SSH_PORT       its sshd's port on 127.0.0.1, and E_SSH_PORT_VAR the variable that sets it
#   E_HOME           core's HOME in its sessions (the action keeps its lock and history there)
#   E_KEY_COMMENT    comment prefix of its host keys
# and exports DOCKER_HOST=$E_DOCKER_HOST: every plain `docker` (here and in lib.sh's helpers)
# talks to that engine. The first engine is reached only through first_docker, and only to read.

FIRST_DOCKER_HOST=unix:///var/run/docker.sock
first_docker() { DOCKER_HOST="$FIRST_DOCKER_HOST" docker "$@"; }

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# engine_ssh CMD...: a session as core on this host's sshd, checking its host key.
engine_ssh() {
  ssh -F /dev/null -i "$KEYS_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$E_DIR/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -p "$E_SSH_PORT" "$SSH_USER@$LOOPBACK" "$@"
}

# --- dockerd ---------------------------------------------------------------------------
engine_start_dockerd() {
  local pidfile="$E_DIR/dockerd.pid"
  [ "${DOCKER_HOST:-}" = "$E_DOCKER_HOST" ] ||
    die "DOCKER_HOST is '${DOCKER_HOST:-}', not $E_DOCKER_HOST: $E_SCRIPT must export it before starting dockerd $E_LABEL"
  if ! docker_ok; then
    pid_alive "$pidfile" "--pidfile $pidfile" &&
      die "dockerd $E_LABEL (pid $(cat "$pidfile")) runs but does not answer on $E_DOCKER_HOST; see $E_DIR/dockerd.log"
    # A dockerd that was killed leaves its pidfile, and a new one refuses to start beside it.
    rm -f "$pidfile"
    mkdir -p "$E_DATA_ROOT" "$E_EXEC_ROOT"
    # Our own (empty) config file, so a future /etc/docker/daemon.json (hosts, data-root, ...)
    # can never make the daemons collide.
    [ -f "$E_DIR/daemon.json" ] || printf '{}\n' >"$E_DIR/daemon.json"
    log "starting dockerd $E_LABEL on $E_DOCKER_HOST (log: $E_DIR/dockerd.log)"
    # Everything a daemon keeps on disk or in /run is its own: data-root, exec-root (metrics
    # socket, runc state, its managed containerd), pidfile, containerd namespace, cgroup parent
    # (only the identity key /etc/docker/key.json is shared: dockerd 20.10 has no flag for it,
    # so `docker info` shows one ID for all). No bridge, no iptables, no ip_forward sysctl:
    # containers use the host's network, as on the first host.
    setsid dockerd --config-file "$E_DIR/daemon.json" \
      --data-root "$E_DATA_ROOT" --exec-root "$E_EXEC_ROOT" \
      -H "$E_DOCKER_HOST" -G docker --pidfile "$pidfile" \
      --containerd-namespace "$E_CONTAINERD_NS" --containerd-plugins-namespace "$E_CONTAINERD_NS-plugins" \
      --cgroup-parent "$E_CGROUP_PARENT" \
      --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
      </dev/null >>"$E_DIR/dockerd.log" 2>&1 &
    local pid=$! deadline=$((SECONDS + 60))
    until docker_ok; do
      if ((SECONDS >= deadline)) || ! kill -0 "$pid" 2>/dev/null; then
        tail_log "$E_DIR/dockerd.log"
        die "dockerd $E_LABEL did not answer on $E_DOCKER_HOST within 60s; see $E_DIR/dockerd.log (tail above)"
      fi
      sleep 0.2
    done
  fi
  # Whatever answers on our socket must be our daemon, never another one.
  local root
  root="$(docker info --format '{{.DockerRootDir}}')"
  [ "$root" = "$E_DATA_ROOT" ] || die "$E_DOCKER_HOST is a daemon with data-root $root, not $E_DATA_ROOT"
}

# engine_stop_dockerd: TERM it and wait (it stops its containers and its managed containerd,
# then removes its pidfile); a dockerd that was killed leaves its containerd behind: stop that.
engine_stop_dockerd() {
  local pidfile="$E_DIR/dockerd.pid" pid
  local cpidfile="$E_EXEC_ROOT/containerd/containerd.pid" cid="$E_EXEC_ROOT/containerd/containerd.toml"
  if pid_alive "$pidfile" "--pidfile $pidfile"; then
    pid="$(cat "$pidfile")"
    log "stopping dockerd $E_LABEL (pid $pid) and its containerd"
    kill -TERM "$pid"
    wait_for 60 "dockerd $E_LABEL (pid $pid) to stop" "See $E_DIR/dockerd.log." pid_gone "$pid"
    rm -f "$pidfile"
  fi
  if pid_alive "$cpidfile" "$cid"; then
    log "stopping the containerd dockerd $E_LABEL left behind"
    stop_pidfile "$cpidfile" "$cid"
  fi
}

# --- sshd --------------------------------------------------------------------------------
# engine_start_sshd: sshd for core on 127.0.0.1:$E_SSH_PORT whose sessions get this engine and
# HOME; writes $E_DIR/known_hosts and $E_DIR/host_fingerprint, and checks where a session lands.
engine_start_sshd() {
  local conf="$E_DIR/sshd_config" pidfile="$E_DIR/sshd.pid"
  if ! id "$SSH_USER" >/dev/null 2>&1 || [ ! -s "/home/$SSH_USER/.ssh/authorized_keys" ]; then
    die "user $SSH_USER or its authorized_keys is missing; run e2e/droplet/up.sh first"
  fi
  mkdir -p /run/sshd
  chmod 755 /run/sshd # privilege separation directory
  # This host's HOME for core: its own ~/.hermes-deploy (locks, history).
  install -d -o "$SSH_USER" -g "$SSH_USER" -m 755 "$E_HOME"
  local t
  for t in ed25519 ecdsa rsa; do
    [ -f "$E_DIR/ssh_host_${t}_key" ] || ssh-keygen -q -t "$t" -N '' -C "$E_KEY_COMMENT-$t" -f "$E_DIR/ssh_host_${t}_key"
  done
  cat >"$conf.new" <<CONF
# Dedicated sshd of $E_HOST_NAME (not the system one). Written by $E_SCRIPT.
ListenAddress $LOOPBACK
Port $E_SSH_PORT
HostKey $E_DIR/ssh_host_ed25519_key
HostKey $E_DIR/ssh_host_ecdsa_key
HostKey $E_DIR/ssh_host_rsa_key
PidFile $pidfile
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $SSH_USER
PermitRootLogin no
StrictModes yes
PrintMotd no
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
# Every session (exec ones too) talks to the $E_ENGINE and keeps its own HOME. SetEnv is
# applied after sshd's own HOME/USER/PATH, so it wins.
SetEnv DOCKER_HOST=$E_DOCKER_HOST HOME=$E_HOME
CONF
  local changed=0
  replace_if_changed "$conf" && changed=1
  /usr/sbin/sshd -t -f "$conf" || die "sshd rejected $conf (see message above)"
  if pid_alive "$pidfile" "$conf" && [ "$changed" = 1 ]; then
    log "sshd config changed, restarting sshd $E_LABEL"
    stop_pidfile "$pidfile" "$conf"
  fi
  if ! pid_alive "$pidfile" "$conf"; then
    port_open "$E_SSH_PORT" &&
      die "port $E_SSH_PORT is already taken by another process (not our sshd); free it or set $E_SSH_PORT_VAR"
    log "starting sshd $E_LABEL on $LOOPBACK:$E_SSH_PORT (log: $E_DIR/sshd.log)"
    /usr/sbin/sshd -f "$conf" -E "$E_DIR/sshd.log" </dev/null >/dev/null 2>&1 ||
      { tail_log "$E_DIR/sshd.log"; die "sshd $E_LABEL failed to start; see $E_DIR/sshd.log"; }
  fi
  wait_for 10 "sshd $E_LABEL on $LOOPBACK:$E_SSH_PORT" "See $E_DIR/sshd.log." port_open "$E_SSH_PORT"

  # known_hosts exactly as ssh-keyscan prints it.
  local kh=""
  for t in rsa ecdsa ed25519; do
    kh+="[$LOOPBACK]:$E_SSH_PORT $(cut -d' ' -f1,2 "$E_DIR/ssh_host_${t}_key.pub")"$'\n'
  done
  printf '%s' "$kh" >"$E_DIR/known_hosts"
  ssh-keygen -lf "$E_DIR/ssh_host_ed25519_key.pub" | cut -d' ' -f2 >"$E_DIR/host_fingerprint"

  # A session must land on this engine with its own HOME, or tests would deploy to the wrong
  # host.
  local seen
  # shellcheck disable=SC2016 # expanded by the remote shell
  seen="$(engine_ssh 'printf "%s %s " "$DOCKER_HOST" "$HOME"; docker info --format "{{.DockerRootDir}}"')" ||
    die "'ssh -p $E_SSH_PORT $SSH_USER@$LOOPBACK docker info' failed; see $E_DIR/sshd.log"
  [ "$seen" = "$E_DOCKER_HOST $E_HOME $E_DATA_ROOT" ] ||
    die "a session on sshd $E_LABEL sees '$seen', not '$E_DOCKER_HOST $E_HOME $E_DATA_ROOT'"
}

engine_stop_sshd() {
  pid_alive "$E_DIR/sshd.pid" "$E_DIR/sshd_config" && log "stopping sshd $E_LABEL"
  stop_pidfile "$E_DIR/sshd.pid" "$E_DIR/sshd_config"
}

# --- baseline image ----------------------------------------------------------------------
# engine_copy_baseline: the first engine's baseline (not whatever its :latest is now: a test
# may have deployed there) on this engine with the same image ID, tagged $BASELINE_TAG, and the
# commit it serves in $E_DIR/baseline_commit. Sets E_BASELINE (its ID) and E_OLD_BASELINE (what
# $E_DIR/baseline_image recorded, or empty); recording the new one there is the caller's, once
# it has done its own part.
engine_copy_baseline() {
  local want old=""
  [ -s "$E_DIR/baseline_image" ] && old="$(cat "$E_DIR/baseline_image")"
  if ! want="$(first_docker image inspect --format '{{.Id}}' "$BASELINE_TAG" 2>/dev/null)"; then
    # The first host down: this one can still come up on the baseline it already has.
    { [ -n "$old" ] && image_exists "$old"; } ||
      die "the first engine ($FIRST_DOCKER_HOST) has no $BASELINE_TAG to copy; run e2e/droplet/up.sh first"
    log "the first engine has no $BASELINE_TAG (down?); keeping the recorded baseline $old"
    want="$old"
  fi
  if ! image_exists "$want"; then
    log "copying $BASELINE_TAG ($want) from the first engine"
    first_docker save "$BASELINE_TAG" | docker load >/dev/null ||
      die "docker save $BASELINE_TAG | docker load ($E_ENGINE) failed"
  fi
  image_exists "$want" || die "after docker load the $E_ENGINE has no image $want (IDs differ?)"
  docker tag "$want" "$BASELINE_TAG"
  if [ "$old" != "$want" ] || [ ! -s "$E_DIR/baseline_commit" ]; then
    # What the baseline serves: the commit its build wrote.
    docker run --rm --pull=never --network none --entrypoint cat "$want" /srv/app/build/VERSION \
      >"$E_DIR/baseline_commit.tmp" || die "could not read /srv/app/build/VERSION from $want"
    mv "$E_DIR/baseline_commit.tmp" "$E_DIR/baseline_commit"
  fi
  # shellcheck disable=SC2034 # read by the caller
  E_BASELINE="$want" E_OLD_BASELINE="$old"
}

# --- JSON ----------------------------------------------------------------------------------
json_escape() {
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '%s' "${s//$'\n'/\\n}"
}

# write_json_file FILE KEY VALUE [KEY VALUE]...: one flat object of strings, in that order,
# replaced whole (a test never reads half a file).
write_json_file() {
  local file="$1" json="{" sep=""
  shift
  while [ "$#" -ge 2 ]; do
    json+="$sep"$'\n'"  \"$1\": \"$(json_escape "$2")\""
    sep=","
    shift 2
  done
  printf '%s\n}\n' "$json" >"$file.tmp"
  mv "$file.tmp" "$file"
}
