#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium (browser tests) and a
# PostgreSQL server (store tests). Installs what is missing when run as root on Debian;
# otherwise says what to install. Starts PostgreSQL when it is installed but down.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${need[*]} from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing system packages: ${need[*]}. Install them (e.g. sudo apt-get install ${need[*]})" >&2
    echo "or the tests that need them are skipped with a reason." >&2
  fi
fi

# The suite signs in as `postgres` over TCP without a password, as on CI's machines.
trust_loopback() {
  local conf="/etc/postgresql/$1/main/pg_hba.conf"
  if ! grep -q "copilot-ci" "$conf" 2>/dev/null; then
    { echo "# copilot-ci: trust loopback for the test suite"
      echo "host all all 127.0.0.1/32 trust"
      echo "host all all ::1/128 trust"
      echo "local all all trust"; cat "$conf"; } > "$conf.new" && mv "$conf.new" "$conf"
  fi
}

# PostgreSQL: make sure a server answers on 127.0.0.1:5432 with a `test` database.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if [ "$(id -u)" = "0" ]; then
      version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
      if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main >/dev/null
      fi
      trust_loopback "$version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
    fi
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null \
     && ! psql -h 127.0.0.1 -U postgres -w -tAc "SELECT 1" >/dev/null 2>&1 \
     && [ "$(id -u)" = "0" ]; then
    # A server that wants a password (Debian's default): trust loopback and reload.
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    trust_loopback "$version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
  fi
fi
