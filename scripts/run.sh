#!/usr/bin/env bash
# Start web, worker and beat (the Procfile's lines, under supervisord, which restarts any that
# dies) and, when none answers at REDIS_URL, a local redis-server that is stopped again on exit.
# Called by `make run` after migrate + seed. RUN_DIR (default var/) holds supervisord's files.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${VENV:-.venv}/bin" && pwd)
export PORT=${PORT:-4000}
# Loopback only unless HOST says otherwise: development accepts unsigned payment webhooks.
export HOST=${HOST:-127.0.0.1}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export RUN_DIR=${RUN_DIR:-$PWD/var}
mkdir -p var "$RUN_DIR"

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

supervisor_pid=""
cleanup() {
    if [ -n "$supervisor_pid" ]; then
        kill -TERM "$supervisor_pid" 2>/dev/null || true
        wait "$supervisor_pid" 2>/dev/null || true
    fi
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$BIN/python" scripts/supervisor_conf.py Procfile "$RUN_DIR" > "$RUN_DIR/supervisord.conf"
echo "portal on http://$HOST:$PORT (pages; the API under /api; a process that dies is restarted;"
echo "Ctrl-C stops everything). Status: $BIN/supervisorctl -c $RUN_DIR/supervisord.conf status"
PATH="$BIN:$PATH" "$BIN/supervisord" -c "$RUN_DIR/supervisord.conf" &
supervisor_pid=$!
wait "$supervisor_pid"
