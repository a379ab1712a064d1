#!/usr/bin/env bash
# Brings up the local droplet: dockerd, user `core`, a dedicated sshd on
# 127.0.0.1, the sample app's git origin + git daemon, the production image
# texasca/api:latest and a supervisor that keeps texasca-api running.
# Idempotent; a second run with everything up takes about a second.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
SAMPLE_APP="$(cd "$HERE/../sample-app" && pwd)"

[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a user and runs sshd/dockerd)"
for cmd in docker dockerd /usr/sbin/sshd ssh ssh-keygen git curl debootstrap setsid flock caddy; do
  command -v "$cmd" >/dev/null || die "'$cmd' not found; run scripts/install-deps.sh first"
done

mkdir -p "$STATE" "$CACHE"
chmod 755 "$STATE"

# --- dockerd ---------------------------------------------------------------
start_dockerd() {
  if docker_ok; then
    return
  fi
  pid_alive "$DOCKERD_PIDFILE" "$DOCKERD_ID" &&
    die "dockerd (pid $(cat "$DOCKERD_PIDFILE")) runs but does not answer; see $STATE/dockerd.log"
  # A dockerd or containerd that was killed (the end of a session) leaves pidfiles behind,
  # and a new dockerd refuses to start beside its own.
  rm -f "$DOCKERD_PIDFILE"
  local cpid=/var/run/docker/containerd/containerd.pid
  if [ -f "$cpid" ] && ! kill -0 "$(cat "$cpid")" 2>/dev/null; then rm -f "$cpid"; fi
  log "starting dockerd (log: $STATE/dockerd.log)"
  # No bridge and no iptables: every container uses the host's network, and
  # nothing but loopback is ever touched.
  setsid dockerd --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$DOCKERD_PIDFILE" </dev/null >>"$STATE/dockerd.log" 2>&1 &
  local deadline=$((SECONDS + 60))
  until docker_ok; do
    if ((SECONDS >= deadline)) || ! kill -0 "$!" 2>/dev/null; then
      tail_log "$STATE/dockerd.log"
      die "dockerd did not answer on /var/run/docker.sock within 60s; see $STATE/dockerd.log (tail above)"
    fi
    sleep 0.2
  done
}

# --- user core and client keys -------------------------------------------
setup_user_and_keys() {
  getent group docker >/dev/null || groupadd --system docker
  if ! id "$SSH_USER" >/dev/null 2>&1; then
    log "creating user $SSH_USER"
    useradd --create-home --home-dir "/home/$SSH_USER" --shell /bin/bash --groups docker "$SSH_USER"
  fi
  id -nG "$SSH_USER" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$SSH_USER"
  # '!' (locked) makes sshd refuse even key logins when UsePAM is off.
  [ "$(getent shadow "$SSH_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$SSH_USER"

  mkdir -p "$KEYS_DIR"
  chmod 700 "$KEYS_DIR"
  local k
  [ -f "$KEYS_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C hermes-e2e-ed25519 -f "$KEYS_DIR/id_ed25519"
  [ -f "$KEYS_DIR/id_rsa" ] || ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C hermes-e2e-rsa -f "$KEYS_DIR/id_rsa"
  [ -f "$KEYS_DIR/id_ecdsa" ] || ssh-keygen -q -t ecdsa -b 256 -N '' -C hermes-e2e-ecdsa -f "$KEYS_DIR/id_ecdsa"
  [ -f "$KEYS_DIR/id_ed25519_pass" ] || ssh-keygen -q -t ed25519 -N "$KEY_PASSPHRASE" -C hermes-e2e-pass -f "$KEYS_DIR/id_ed25519_pass"
  [ -f "$KEYS_DIR/id_ed25519_wrong" ] || ssh-keygen -q -t ed25519 -N '' -C hermes-e2e-wrong -f "$KEYS_DIR/id_ed25519_wrong"

  local home="/home/$SSH_USER" wanted
  wanted="$(for k in id_ed25519 id_rsa id_ecdsa id_ed25519_pass; do cat "$KEYS_DIR/$k.pub"; done)"
  # sshd's StrictModes wants the home, ~/.ssh and authorized_keys owned by core and not group/world-writable.
  chown "$SSH_USER:$SSH_USER" "$home"
  chmod 755 "$home"
  install -d -o "$SSH_USER" -g "$SSH_USER" -m 700 "$home/.ssh"
  # Another droplet instance (another HERMES_DROPLET_STATE) may have its keys
  # there too: add ours, keep every other line. Under a lock, so two up.sh
  # never drop each other's keys, and replaced whole, so an sshd reading it
  # never sees half a file.
  local ak="$home/.ssh/authorized_keys" merged lock_fd
  exec {lock_fd}>/tmp/hermes-droplet-authorized_keys.lock
  flock "$lock_fd"
  merged="$({ cat "$ak" 2>/dev/null || true; printf '%s\n' "$wanted"; } | awk 'NF && !seen[$0]++')"
  if [ "$(cat "$ak" 2>/dev/null)" != "$merged" ]; then
    log "adding the keys of $KEYS_DIR to $ak"
    printf '%s\n' "$merged" >"$ak.tmp"
    chown "$SSH_USER:$SSH_USER" "$ak.tmp"
    chmod 600 "$ak.tmp"
    mv -f "$ak.tmp" "$ak"
  fi
  chown "$SSH_USER:$SSH_USER" "$ak"
  chmod 600 "$ak"
  exec {lock_fd}>&-
}

# --- sshd --------------------------------------------------------------------
start_sshd() {
  mkdir -p "$SSHD_DIR" /run/sshd
  chmod 755 /run/sshd # privilege separation directory
  local t
  for t in ed25519 ecdsa rsa; do
    [ -f "$SSHD_DIR/ssh_host_${t}_key" ] || ssh-keygen -q -t "$t" -N '' -C "hermes-droplet-host-$t" -f "$SSHD_DIR/ssh_host_${t}_key"
  done
  local conf="$SSHD_DIR/sshd_config"
  cat >"$conf.new" <<CONF
# Dedicated sshd of the local droplet (not the system one). Written by up.sh.
ListenAddress $LOOPBACK
Port $SSH_PORT
HostKey $SSHD_DIR/ssh_host_ed25519_key
HostKey $SSHD_DIR/ssh_host_ecdsa_key
HostKey $SSHD_DIR/ssh_host_rsa_key
PidFile $SSHD_PIDFILE
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
# Tests open many connections in parallel; don't drop them at random.
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
CONF
  local changed=0
  replace_if_changed "$conf" && changed=1
  /usr/sbin/sshd -t -f "$conf" || die "sshd rejected $conf (see message above)"

  if pid_alive "$SSHD_PIDFILE" "$SSHD_ID" && [ "$changed" = 1 ]; then
    log "sshd config changed, restarting sshd"
    stop_pidfile "$SSHD_PIDFILE" "$SSHD_ID"
  fi
  if ! pid_alive "$SSHD_PIDFILE" "$SSHD_ID"; then
    if port_open "$SSH_PORT"; then
      die "port $SSH_PORT is already taken by another process (not our sshd); free it or set HERMES_DROPLET_SSH_PORT"
    fi
    log "starting sshd on $LOOPBACK:$SSH_PORT (log: $SSHD_DIR/sshd.log)"
    /usr/sbin/sshd -f "$conf" -E "$SSHD_DIR/sshd.log" </dev/null >/dev/null 2>&1 ||
      { tail_log "$SSHD_DIR/sshd.log"; die "sshd failed to start; see $SSHD_DIR/sshd.log"; }
  fi
  wait_for 10 "sshd on $LOOPBACK:$SSH_PORT" "See $SSHD_DIR/sshd.log." port_open "$SSH_PORT"

  # known_hosts exactly as ssh-keyscan prints it (host [ip]:port unless port 22).
  local host="$LOOPBACK" kh=""
  [ "$SSH_PORT" = 22 ] || host="[$LOOPBACK]:$SSH_PORT"
  for t in rsa ecdsa ed25519; do
    kh+="$host $(cut -d' ' -f1,2 "$SSHD_DIR/ssh_host_${t}_key.pub")"$'\n'
  done
  printf '%s' "$kh" >"$STATE/known_hosts"
  ssh-keygen -lf "$SSHD_DIR/ssh_host_ed25519_key.pub" | cut -d' ' -f2 >"$STATE/host_fingerprint"
}

ssh_core() {
  ssh -F /dev/null -i "$KEYS_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$STATE/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -p "$SSH_PORT" "$SSH_USER@$LOOPBACK" "$@"
}

# --- base image --------------------------------------------------------------
# Prints the first Debian mirror URI in the apt sources whose suites include
# CODENAME (deb822 *.sources and one-line *.list formats). Entries signed by a
# non-Debian keyring are skipped: debootstrap checks the Debian archive key.
find_mirror() {
  local codename="$1" f line key val
  local types uris suites signed enabled uri suite opts rest
  local -a files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done

  emit() { # types uris suites signed enabled
    [ "$5" = no ] && return 1
    [[ " $1 " == *" deb "* ]] || return 1
    [[ " $3 " == *" $codename "* ]] || return 1
    [ -z "$4" ] || [[ "$4" == *debian-archive* ]] || return 1
    for uri in $2; do
      case "$uri" in http://* | https://* | file:/*) printf '%s\n' "$uri"; return 0 ;; esac
    done
    return 1
  }

  for f in "${files[@]}"; do
    if [[ "$f" == *.sources ]]; then
      types="" uris="" suites="" signed="" enabled=""
      while IFS= read -r line || [ -n "$line" ]; do
        if [[ -z "${line//[[:space:]]/}" ]]; then # blank line ends a stanza
          emit "$types" "$uris" "$suites" "$signed" "$enabled" && return 0
          types="" uris="" suites="" signed="" enabled=""
          continue
        fi
        [[ "$line" =~ ^[[:space:]]*# || "$line" =~ ^[[:space:]] ]] && continue
        key="${line%%:*}" val="${line#*:}"
        val="$(echo "$val" | xargs)"
        case "${key,,}" in
          types) types="$val" ;;
          uris) uris="$val" ;;
          suites) suites="$val" ;;
          signed-by) signed="$val" ;;
          enabled) enabled="${val,,}" ;;
        esac
      done <"$f"
      emit "$types" "$uris" "$suites" "$signed" "$enabled" && return 0
    else
      while read -r types rest || [ -n "$types" ]; do
        [ "$types" = deb ] || continue
        opts=""
        if [[ "$rest" == \[* ]]; then
          opts="${rest%%]*}" rest="${rest#*]}"
        fi
        read -r uri suite _ <<<"$rest"
        signed=""
        [[ "$opts" =~ signed-by=([^[:space:]]+) ]] && signed="${BASH_REMATCH[1]}"
        emit deb "$uri" "$suite" "$signed" "" && return 0
      done <"$f"
    fi
  done
  return 1
}

ensure_base_image() {
  local codename
  # shellcheck source=/dev/null
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || die "VERSION_CODENAME missing from /etc/os-release"
  BASE_IMAGE="hermes-e2e/base:$codename"
  image_exists "$BASE_IMAGE" && return

  local tarball="$CACHE/base-$codename.tar"
  if [ ! -s "$tarball" ]; then
    local mirror rootfs
    mirror="$(find_mirror "$codename")" ||
      die "no Debian mirror for '$codename' in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}"
    rootfs="$CACHE/rootfs-$codename"
    rm -rf "$rootfs"
    log "debootstrap $codename from $mirror (a few minutes; log: $STATE/debootstrap.log)"
    if ! debootstrap --variant=minbase --include=git,busybox,ca-certificates \
      "$codename" "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1; then
      tail_log "$STATE/debootstrap.log"
      tail_log "$rootfs/debootstrap/debootstrap.log"
      die "debootstrap failed; see $STATE/debootstrap.log and $rootfs/debootstrap/debootstrap.log"
    fi
    # Downloaded .debs and apt lists are dead weight in the image.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "importing $BASE_IMAGE from $tarball"
  # An imported rootfs has no config at all; give it the PATH any Debian image has.
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$BASE_IMAGE" <"$tarball" >/dev/null
  local applets
  applets="$(docker run --rm --pull=never --network host "$BASE_IMAGE" busybox --list)" ||
    die "could not run busybox in $BASE_IMAGE"
  grep -qx httpd <<<"$applets" ||
    die "busybox in $BASE_IMAGE has no httpd applet; the sample app's start.sh needs it"
}

# --- origin repo and git daemon -------------------------------------------------
sample_app_digest() {
  (cd "$SAMPLE_APP" && find . -type f -print0 | sort -z | xargs -0 stat -c '%a %n' && find . -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -d' ' -f1
}

ensure_origin() {
  local digest
  digest="$(sample_app_digest)"
  # A changed e2e/sample-app means a new origin (and so a new baseline image).
  if [ -d "$ORIGIN_DIR" ] && [ "$(cat "$STATE/sample_app_digest" 2>/dev/null)" = "$digest" ] &&
    [ -s "$STATE/baseline_commit" ] && [ -d "$WORK_DIR/.git" ]; then
    return
  fi
  log "creating origin $ORIGIN_DIR and working clone $WORK_DIR from e2e/sample-app"
  rm -rf "$ORIGIN_DIR" "$WORK_DIR" "$STATE/baseline_image"
  mkdir -p "$(dirname "$ORIGIN_DIR")" "$(dirname "$WORK_DIR")"
  git init -q --bare --initial-branch=master "$ORIGIN_DIR"
  git init -q --initial-branch=master "$WORK_DIR"
  git -C "$WORK_DIR" config user.name "Hermes E2E"
  git -C "$WORK_DIR" config user.email "hermes-e2e@example.invalid"
  git -C "$WORK_DIR" remote add origin "$ORIGIN_DIR"
  cp -a "$SAMPLE_APP"/. "$WORK_DIR"/
  git -C "$WORK_DIR" add -A
  git -C "$WORK_DIR" commit -q -m "Initial sample app"
  git -C "$WORK_DIR" push -q -u origin master
  git -C "$WORK_DIR" rev-parse HEAD >"$STATE/baseline_commit"
  printf '%s\n' "$digest" >"$STATE/sample_app_digest"
}

start_git_daemon() {
  if pid_alive "$GITD_PIDFILE" "$GITD_ID" && port_open "$GIT_PORT"; then
    return
  fi
  stop_pidfile "$GITD_PIDFILE" "$GITD_ID"
  port_open "$GIT_PORT" &&
    die "port $GIT_PORT is already taken by another process; free it or set HERMES_DROPLET_GIT_PORT"
  log "starting git daemon on $ORIGIN_URL (log: $STATE/git-daemon.log)"
  setsid git daemon --reuseaddr --base-path="$STATE/origin" --export-all \
    --listen="$LOOPBACK" --port="$GIT_PORT" --pid-file="$GITD_PIDFILE" \
    </dev/null >>"$STATE/git-daemon.log" 2>&1 &
  wait_for 10 "git daemon on port $GIT_PORT" "See $STATE/git-daemon.log." port_open "$GIT_PORT"
}

# --- production image ---------------------------------------------------------
ensure_production_image() {
  local baseline=""
  [ -s "$STATE/baseline_image" ] && baseline="$(cat "$STATE/baseline_image")"
  if [ -n "$baseline" ] && image_exists "$baseline"; then
    image_exists "$IMAGE:latest" || docker tag "$baseline" "$IMAGE:latest"
    image_exists "$BASELINE_TAG" || docker tag "$baseline" "$BASELINE_TAG"
    return
  fi

  local builder="$BUILDER"
  log "building $IMAGE:latest from $ORIGIN_URL (docker run + docker commit; log: $STATE/build.log)"
  docker rm -f "$builder" >/dev/null 2>&1 || true
  if ! docker run --pull=never --name "$builder" --network host "$BASE_IMAGE" \
    sh -c "set -e; git clone -q '$ORIGIN_URL' /srv/app; cd /srv/app; ./build.sh" >"$STATE/build.log" 2>&1; then
    tail_log "$STATE/build.log"
    docker rm -f "$builder" >/dev/null 2>&1 || true
    die "building the sample app failed; see $STATE/build.log"
  fi
  baseline="$(docker commit \
    --change 'ENTRYPOINT ["/srv/app/start.sh"]' \
    --change 'CMD []' \
    --change 'ENV APP_ENV=production' \
    --change "ENV PORT=$APP_PORT" \
    --change 'WORKDIR /srv/app' \
    --change "EXPOSE $APP_PORT" \
    --change "LABEL org.opencontainers.image.title=$CONTAINER" \
    "$builder" "$IMAGE:latest")"
  docker rm -f "$builder" >/dev/null
  docker tag "$baseline" "$BASELINE_TAG"
  printf '%s\n' "$baseline" >"$STATE/baseline_image"
  # A supervisor still running the old image must respawn from the new one.
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
}

# --- supervisor ----------------------------------------------------------------
start_supervisor() {
  if ! pid_alive "$SUPERVISOR_PIDFILE" "$SUPERVISOR_ID"; then
    log "starting supervisor for $CONTAINER (log: $STATE/supervisor.log)"
    # Run in its own session so down.sh can stop it and its docker client together.
    HERMES_DROPLET_IMAGE="$IMAGE" HERMES_DROPLET_CONTAINER="$CONTAINER" \
      HERMES_DROPLET_RESTART_DELAY="$RESTART_DELAY" \
      setsid "$HERE/supervisor.sh" </dev/null >>"$STATE/supervisor.log" 2>&1 &
    printf '%s\n' "$!" >"$SUPERVISOR_PIDFILE"
  fi
  wait_for 60 "the app at $APP_URL" \
    "Check $STATE/supervisor.log and 'docker logs $CONTAINER'; if a test left a broken image, run reset.sh." app_ok
}

# --- the reverse proxy ----------------------------------------------------------
# Caddy from Debian's package, on loopback, in front of the app: what the handover
# (`handover: caddy`) switches through its admin API. No retries configured: a
# request that reaches a closed port fails, so a test sees every gap.
start_caddy() {
  mkdir -p "$CADDY_DIR"
  cat >"$CADDY_DIR/Caddyfile.new" <<CADDY
{
	admin $LOOPBACK:$CADDY_ADMIN_PORT
	auto_https off
	storage file_system $CADDY_DIR/data
}

http://$LOOPBACK:$PROXY_PORT {
	bind $LOOPBACK
	reverse_proxy $LOOPBACK:$APP_PORT
}
CADDY
  local changed=0
  replace_if_changed "$CADDY_DIR/Caddyfile" && changed=1
  if pid_alive "$CADDY_PIDFILE" "$CADDY_ID" && [ "$changed" = 1 ]; then
    stop_pidfile "$CADDY_PIDFILE" "$CADDY_ID"
  fi
  if ! pid_alive "$CADDY_PIDFILE" "$CADDY_ID"; then
    port_open "$PROXY_PORT" &&
      die "port $PROXY_PORT is already taken by another process; free it or set HERMES_DROPLET_PROXY_PORT"
    log "starting caddy on $PROXY_URL, admin $CADDY_ADMIN (log: $CADDY_DIR/caddy.log)"
    HOME="$CADDY_DIR" XDG_DATA_HOME="$CADDY_DIR/data" XDG_CONFIG_HOME="$CADDY_DIR/config" \
      setsid caddy run --config "$CADDY_DIR/Caddyfile" --adapter caddyfile --pidfile "$CADDY_PIDFILE" \
      </dev/null >>"$CADDY_DIR/caddy.log" 2>&1 &
  fi
  wait_for 20 "caddy on $PROXY_URL" "See $CADDY_DIR/caddy.log." port_open "$PROXY_PORT"
}

# --- env files -----------------------------------------------------------------
write_env() {
  local -a keys=(HOST PORT USERNAME KEY_PATH KEY_RSA_PATH KEY_ECDSA_PATH KEY_PASS_PATH
    KEY_PASSPHRASE KEY_WRONG_PATH KNOWN_HOSTS_PATH HOST_FINGERPRINT IMAGE CONTAINER
    REPO_PATH APP_URL PROXY_URL CADDY_ADMIN WORK_DIR ORIGIN_DIR ORIGIN_URL BASELINE_IMAGE BASELINE_COMMIT
    BUILD_COMMAND HEALTH_COMMAND STATE_DIR)
  local -A v=(
    [HOST]="$LOOPBACK" [PORT]="$SSH_PORT" [USERNAME]="$SSH_USER"
    [KEY_PATH]="$KEYS_DIR/id_ed25519" [KEY_RSA_PATH]="$KEYS_DIR/id_rsa"
    [KEY_ECDSA_PATH]="$KEYS_DIR/id_ecdsa" [KEY_PASS_PATH]="$KEYS_DIR/id_ed25519_pass"
    [KEY_PASSPHRASE]="$KEY_PASSPHRASE" [KEY_WRONG_PATH]="$KEYS_DIR/id_ed25519_wrong"
    [KNOWN_HOSTS_PATH]="$STATE/known_hosts" [HOST_FINGERPRINT]="$(cat "$STATE/host_fingerprint")"
    [IMAGE]="$IMAGE" [CONTAINER]="$CONTAINER" [REPO_PATH]=/srv/app [APP_URL]="$APP_URL"
    [PROXY_URL]="$PROXY_URL" [CADDY_ADMIN]="$CADDY_ADMIN"
    [WORK_DIR]="$WORK_DIR" [ORIGIN_DIR]="$ORIGIN_DIR" [ORIGIN_URL]="$ORIGIN_URL"
    [BASELINE_IMAGE]="$(cat "$STATE/baseline_image")"
    [BASELINE_COMMIT]="$(cat "$STATE/baseline_commit")"
    [BUILD_COMMAND]=./build.sh
    [HEALTH_COMMAND]="curl -fsS --max-time 5 $APP_URL >/dev/null"
    [STATE_DIR]="$STATE"
  )
  local k val sq="'" esc json="{" sep="" sh=""
  for k in "${keys[@]}"; do
    val="${v[$k]}"
    sh+="$k='${val//$sq/$sq\\$sq$sq}'"$'\n'
    esc="${val//\\/\\\\}"
    esc="${esc//\"/\\\"}"
    json+="$sep"$'\n'"  \"$k\": \"$esc\""
    sep=","
  done
  printf '%s' "$sh" >"$STATE/env.tmp" && mv "$STATE/env.tmp" "$STATE/env"
  printf '%s\n}\n' "$json" >"$STATE/env.json.tmp" && mv "$STATE/env.json.tmp" "$STATE/env.json"
}

start_dockerd
setup_user_and_keys
start_sshd
ssh_core docker ps >/dev/null ||
  die "'ssh core@$LOOPBACK -p $SSH_PORT docker ps' failed; see $SSHD_DIR/sshd.log and check that core is in group docker"
ensure_base_image
ensure_origin
start_git_daemon
ensure_production_image
start_supervisor
start_caddy
write_env
log "up: ssh -i $KEYS_DIR/id_ed25519 -o UserKnownHostsFile=$STATE/known_hosts -p $SSH_PORT $SSH_USER@$LOOPBACK; app $APP_URL; env in $STATE/env and $STATE/env.json"
