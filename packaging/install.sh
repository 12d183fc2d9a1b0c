#!/usr/bin/env bash
# Installs, upgrades, rolls back or uninstalls one spisync role on Debian/Ubuntu.
#
#   packaging/install.sh agent|hub|archive [--root DIR] [--python PY] [--pip-args ARGS]
#   packaging/install.sh ROLE --rollback [--root DIR]
#   packaging/install.sh ROLE --uninstall [--root DIR]
#
# What it lays out (under --root, "/" by default):
#   usr/lib/sysusers.d/spisync-ROLE.conf   the role's system user (systemd-sysusers)
#   opt/spisync/VERSION/                   a virtual environment with this version
#   opt/spisync/current -> VERSION         what the unit runs; opt/spisync/previous -> the one before
#   etc/spisync/ROLE.toml                  the config, from the example, mode 0600, owned by the user
#   var/lib/spisync-ROLE/                  state (kept by uninstall)
#   etc/systemd/system/spisync-ROLE.service
# The unit is enabled (and started, on the live system) only after `spisync ROLE check`
# passes. An upgrade installs the new version beside the old one, backs up the state's
# SQLite databases (var/lib/spisync-ROLE/pre-upgrade-OLD/), switches `current`, and
# restarts: the service migrates its state when it starts. If the restarted service
# fails its check, the script rolls back by itself; `--rollback` does it by hand
# (the previous version and the state backup). `--uninstall` keeps config and data.
set -euo pipefail

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

ROLE="${1:-}"; shift || true
case "$ROLE" in agent|hub|archive) ;; *) usage ;; esac
ROOT=/ PYTHON=python3 PIP_ARGS="" ACTION=install
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;
    --rollback) ACTION=rollback; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    *) usage ;;
  esac
done

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$ROOT" && pwd)"
R="${ROOT%/}"                         # prefix for paths: "" on the live system
LIVE=$([ "$R" = "" ] && echo yes || echo no)
USER_NAME="spisync-$ROLE"
UNIT="spisync-$ROLE.service"
CONFIG_NAME="$(echo "$ROLE" | tr '[:lower:]' '[:upper:]').toml"
CONFIG="/etc/spisync/$CONFIG_NAME"
STATE="/var/lib/spisync-$ROLE"
OPT="/opt/spisync"
case "$ROLE" in agent) EXTRAS=agent; STATE_MODE=0700 ;; *) EXTRAS="$ROLE"; STATE_MODE=0750 ;; esac

systemctl_() {
  if [ "$LIVE" = yes ]; then systemctl "$@"; else systemctl --root="$ROOT" "$@"; fi
}
have_systemctl() { command -v systemctl >/dev/null && { [ "$LIVE" = no ] || [ -d /run/systemd/system ]; }; }

# The user's numeric ids inside the root, to own files there (the host may not know the name).
ids_of() { awk -F: -v u="$USER_NAME" '$1 == u { print $3 ":" $4 }' "$R/etc/passwd" 2>/dev/null || true; }
own() { local ids; ids="$(ids_of)"; if [ "$(id -u)" -eq 0 ] && [ -n "$ids" ]; then chown "$ids" "$@"; fi; }

version_of_source() {
  "$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$SRC/pyproject.toml"
}

create_user() {
  mkdir -p "$R/usr/lib/sysusers.d" "$R/etc"
  printf 'u %s - "spisync %s" %s /usr/sbin/nologin\n' "$USER_NAME" "$ROLE" "$STATE" \
    > "$R/usr/lib/sysusers.d/$USER_NAME.conf"
  if command -v systemd-sysusers >/dev/null; then
    if [ "$LIVE" = yes ]; then systemd-sysusers "$USER_NAME.conf"
    else systemd-sysusers --root="$ROOT" "$USER_NAME.conf"; fi
  else
    say "systemd-sysusers is missing: create user $USER_NAME by hand"
  fi
}

install_venv() {
  local version="$1" target="$R$OPT/$1"
  if [ -x "$target/bin/spisync" ] && grep -qx "$ROLE" "$target/.roles" 2>/dev/null; then
    say "spisync $version for $ROLE is already in $OPT/$version"; return
  fi
  say "installing spisync $version [$EXTRAS] into $OPT/$version"
  [ -x "$target/bin/python" ] || "$PYTHON" -m venv "$target"
  # pip builds a local project in place (build/, *.egg-info): build from a copy instead,
  # so the source (a checkout, or read-only media) stays as it is.
  local copy
  copy="$(mktemp -d)"
  tar -C "$SRC" --exclude=./.venv --exclude=./.git --exclude=./build -cf - . | tar -C "$copy" -xf -
  # shellcheck disable=SC2086 # PIP_ARGS are several words by design
  "$target/bin/python" -m pip install -q $PIP_ARGS -c "$SRC/requirements/constraints.txt" "$copy[$EXTRAS]"
  rm -rf "$copy"
  echo "$ROLE" >> "$target/.roles"
  mkdir -p "$target/share/doc/spisync"
  cp "$SRC/README.md" "$SRC/CHANGELOG.md" "$target/share/doc/spisync/"
}

point() {  # point NAME VERSION: an atomic symlink switch
  ln -sfn "$2" "$R$OPT/.$1.new" && mv -T "$R$OPT/.$1.new" "$R$OPT/$1"
}

lay_out_config_and_state() {
  mkdir -p "$R/etc/spisync" "$R$STATE"
  chmod 0755 "$R/etc/spisync"
  chmod "$STATE_MODE" "$R$STATE"; own "$R$STATE"
  if [ ! -e "$R$CONFIG" ]; then
    say "writing the config template $CONFIG (mode 0600): fill it in, then run this again"
    install -m 0600 "$SRC/packaging/config/$ROLE.example.toml" "$R$CONFIG"
    own "$R$CONFIG"
  fi
  mkdir -p "$R/etc/systemd/system"
  install -m 0644 "$SRC/packaging/systemd/$UNIT" "$R/etc/systemd/system/$UNIT"
}

backup_state() {  # backup_state OLD_VERSION: online SQLite backups of the state's databases
  local dest="$R$STATE/pre-upgrade-$1"
  mkdir -p "$dest"
  for db in "$R$STATE"/*.sqlite; do
    [ -e "$db" ] || continue
    "$R$OPT/current/bin/python" -c \
      'import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d); d.close()' \
      "$db" "$dest/$(basename "$db")"
  done
  own -R "$dest"
  echo "$dest"
}

check_passes() {
  local as=() 
  if [ "$LIVE" = yes ] && [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
    as=(runuser -u "$USER_NAME" --)
  fi
  "${as[@]}" "$R$OPT/current/bin/spisync" "$ROLE" check --config "$R$CONFIG"
}

enable_or_explain() {
  if ! check_passes; then
    say "NOT enabled: \`spisync $ROLE check\` failed (see above). Fix $CONFIG, then run:"
    say "  $0 $ROLE${ROOT:+ --root $ROOT}"
    return 0
  fi
  if ! have_systemctl; then say "no systemd here: enable $UNIT by hand"; return 0; fi
  if [ "$LIVE" = yes ]; then
    systemctl daemon-reload
    systemctl enable "$UNIT"
    systemctl restart "$UNIT"
  else
    systemctl_ enable "$UNIT"
  fi
  say "enabled $UNIT"
}

restart_and_verify() {
  [ "$LIVE" = yes ] && have_systemctl || return 0
  systemctl daemon-reload
  systemctl is-enabled --quiet "$UNIT" || return 0
  systemctl restart "$UNIT" && systemctl is-active --quiet "$UNIT" && check_passes
}

do_install() {
  local version old=""
  version="$(version_of_source)"
  [ -L "$R$OPT/current" ] && old="$(readlink "$R$OPT/current")"
  create_user
  install_venv "$version"
  lay_out_config_and_state
  if [ -n "$old" ] && [ "$old" != "$version" ]; then
    say "upgrading $ROLE from $old to $version (the old version stays in $OPT/$old)"
    backup_state "$old" >/dev/null
    point previous "$old"
    point current "$version"
    if ! restart_and_verify; then
      say "the upgraded service does not come up: rolling back to $old"
      do_rollback
      die "upgrade to $version failed and was rolled back"
    fi
    say "upgraded to $version; \`$0 $ROLE --rollback\` returns to $old"
    return 0
  fi
  point current "$version"
  enable_or_explain
}

do_rollback() {
  [ -L "$R$OPT/previous" ] || die "no previous version to roll back to"
  local previous current backup
  previous="$(readlink "$R$OPT/previous")"
  current="$(readlink "$R$OPT/current")"
  backup="$R$STATE/pre-upgrade-$previous"
  if [ "$LIVE" = yes ] && have_systemctl; then systemctl stop "$UNIT" || true; fi
  if [ -d "$backup" ]; then
    say "restoring the state from before the upgrade ($backup)"
    for db in "$backup"/*.sqlite; do
      [ -e "$db" ] || continue
      rm -f "$R$STATE/$(basename "$db")-wal" "$R$STATE/$(basename "$db")-shm"
      install -m 0600 "$db" "$R$STATE/$(basename "$db")"; own "$R$STATE/$(basename "$db")"
    done
  fi
  point current "$previous"
  point previous "$current"
  if [ "$LIVE" = yes ] && have_systemctl && systemctl is-enabled --quiet "$UNIT"; then
    systemctl start "$UNIT"
  fi
  say "rolled back $ROLE to $previous"
}

do_uninstall() {
  if have_systemctl; then
    if [ "$LIVE" = yes ]; then systemctl disable --now "$UNIT" 2>/dev/null || true
    else systemctl_ disable "$UNIT" 2>/dev/null || true; fi
  fi
  rm -f "$R/etc/systemd/system/$UNIT"
  local left=0
  for venv in "$R$OPT"/*/; do
    [ -f "$venv/.roles" ] || continue
    grep -vx "$ROLE" "$venv/.roles" > "$venv/.roles.new" || true
    mv "$venv/.roles.new" "$venv/.roles"
    if [ -s "$venv/.roles" ]; then left=1; fi
  done
  if [ "$left" -eq 0 ]; then rm -rf "${R:?}$OPT"; fi
  say "uninstalled $ROLE; kept $CONFIG and $STATE (delete them by hand to remove the data)"
}

case "$ACTION" in
  install) do_install ;;
  rollback) do_rollback ;;
  uninstall) do_uninstall ;;
esac
