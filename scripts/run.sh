#!/usr/bin/env bash
# Start web, worker and beat (honcho + Procfile) and, when none answers at REDIS_URL, a local
# redis-server that is stopped again on exit. Called by `make run` after migrate + seed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export PORT=${PORT:-4000}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
mkdir -p var

# Each SSE client holds a socket: raise the soft open-file limit as far as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

redis_pid=""
if ! "$BIN/python" - <<'PY'
import os, sys, redis
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1).ping()
except Exception:
    sys.exit(1)
PY
then
    port=$("$BIN/python" -c 'import os, urllib.parse as u; print(u.urlparse(os.environ["REDIS_URL"]).port or 6379)')
    command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)"; exit 1; }
    echo "no Redis at $REDIS_URL: starting a local redis-server on port $port"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD/var" \
        --logfile "$PWD/var/redis.log" --daemonize yes --pidfile "$PWD/var/redis.pid"
    for _ in $(seq 50); do [ -s var/redis.pid ] && break; sleep 0.1; done
    redis_pid=$(cat var/redis.pid)
fi

cleanup() {
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

echo "portal on http://127.0.0.1:$PORT (pages; the API under /api; Ctrl-C stops everything)"
PATH="$PWD/$BIN:$PATH" "$BIN/honcho" start -f Procfile
