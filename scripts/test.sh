#!/usr/bin/env bash
# Run the whole test suite from a fresh clone: install what the tests need, start
# PostgreSQL and Redis when they are down, then run pytest (unit, integration, browser)
# and, for the whole suite, the mutation check.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev,browser,spark]'

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromium >/dev/null; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null
fi
# pyspark (the spark extra) runs on a Java 17+ runtime; Debian's 17, else its default JRE.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v java >/dev/null; then
  (apt-get update -q && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jre-headless; }) >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

if [ $# -gt 0 ]; then
  exec "$VENV/bin/python" -m pytest "$@"
fi
# The whole suite, as CI runs it: two pytest processes (a test file stays on one; each
# process has a Redis of its own, see tests/conftest.py), most of whose time is spent
# waiting on the live stacks. Schemathesis's generated tests do not run under
# pytest-xdist (they are silently left out), so the fuzz file runs on its own after.
# Then the mutation check: faults planted one at a time in a copy of the tree, each of
# which its tests must catch.
FUZZ=tests/integration/test_fuzz.py
"$VENV/bin/python" -m pytest -n 2 --dist loadfile --ignore="$FUZZ"
"$VENV/bin/python" -m pytest "$FUZZ"
"$VENV/bin/python" scripts/mutation_check.py
