# Shared set-up steps of ./scripts/network and ./scripts/test. Sourced, not run.
# Everything a fresh Debian/Ubuntu machine needs is installed here, never by hand.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
AMQP_HOST="${SPISYNC_AMQP_HOST:-127.0.0.1}"
AMQP_PORT="${SPISYNC_AMQP_PORT:-5672}"
MANAGEMENT_PORT="${SPISYNC_MANAGEMENT_PORT:-15672}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*  (install sudo or run as root)" >&2; return 1; fi
}

apt_install() {
  say "installing system packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_system_packages() {
  local missing=()
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v curl >/dev/null || missing+=(curl)
  # systemd-analyze checks the units (verify, security); the package does not start systemd.
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "spisync needs Python 3.11 or newer; this machine has $(python3 --version)" >&2; return 1; }
}

ensure_venv() {
  local extras="$1" stamp="$VENV/.spisync-installed"
  local want
  want="$extras $(cat "$ROOT/pyproject.toml" "$ROOT/requirements/constraints.txt" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "creating the virtual environment in .venv (pinned by requirements/constraints.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c "$ROOT/requirements/constraints.txt" -e "$ROOT[$extras]"
  echo "$want" > "$stamp"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# spisync's node-wide broker limits (packaging/rabbitmq/spisync.conf: max_message_size,
# consumer_timeout) go into the node's config; a running node takes them at its next start.
configure_rabbitmq_limits() {
  local conf=/etc/rabbitmq/rabbitmq.conf
  [ -d /etc/rabbitmq ] || return 0
  if ! grep -q '^max_message_size' "$conf" 2>/dev/null; then
    say "adding spisync's broker limits to $conf (in effect from the node's next start)"
    cat "$ROOT/packaging/rabbitmq/spisync.conf" | as_root tee -a "$conf" >/dev/null
  fi
}

ensure_rabbitmq() {
  configure_rabbitmq_limits
  if ! port_open "$AMQP_HOST" "$AMQP_PORT"; then
    say "no RabbitMQ on $AMQP_HOST:$AMQP_PORT: starting the local node"
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      as_root systemctl start rabbitmq-server
    else
      as_root rabbitmq-server -detached
    fi
    for _ in $(seq 1 120); do port_open "$AMQP_HOST" "$AMQP_PORT" && break; sleep 0.5; done
    port_open "$AMQP_HOST" "$AMQP_PORT" || { echo "RabbitMQ did not start on port $AMQP_PORT" >&2; return 1; }
  fi
  if ! curl -fs -o /dev/null -u guest:guest "http://$AMQP_HOST:$MANAGEMENT_PORT/api/overview"; then
    say "enabling RabbitMQ's management plugin (provisioning uses its HTTP API)"
    as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
    for _ in $(seq 1 120); do
      curl -fs -o /dev/null -u guest:guest "http://$AMQP_HOST:$MANAGEMENT_PORT/api/overview" && return 0
      sleep 0.5
    done
    echo "RabbitMQ's management API did not answer on port $MANAGEMENT_PORT" >&2; return 1
  fi
}

# The registry adapters' tests read a real MariaDB (root without a password over
# 127.0.0.1:3306) and a real PostgreSQL (trust on 127.0.0.1:5432). A server that
# already answers is used as it is and never restarted; a missing one is
# installed and started here.
ensure_mariadb() {
  port_open 127.0.0.1 3306 && return 0
  [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  say "no MariaDB on 127.0.0.1:3306: starting the local server"
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl start mariadb
  else
    as_root service mariadb start >/dev/null
  fi
  for _ in $(seq 1 120); do port_open 127.0.0.1 3306 && break; sleep 0.5; done
  port_open 127.0.0.1 3306 || { echo "MariaDB did not start on port 3306" >&2; return 1; }
  # Debian's root logs in by unix socket only; the tests log in over TCP.
  as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" \
    || { echo "could not let root log in to MariaDB over TCP" >&2; return 1; }
}

ensure_postgresql() {
  port_open 127.0.0.1 5432 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || apt_install postgresql
  say "no PostgreSQL on 127.0.0.1:5432: starting the local cluster (trust on 127.0.0.1)"
  local hba
  hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)"
  grep -q "spisync tests" "$hba" || as_root sed -i \
    '1i host all all 127.0.0.1/32 trust  # spisync tests: local test cluster only' "$hba"
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl start postgresql
  else
    as_root service postgresql start >/dev/null
  fi
  for _ in $(seq 1 120); do port_open 127.0.0.1 5432 && return 0; sleep 0.5; done
  echo "PostgreSQL did not start on port 5432" >&2; return 1
}

# The console's browser tests drive Debian's Chromium through Playwright
# (`executable_path`); Playwright's own browser downloads are never used.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
}
