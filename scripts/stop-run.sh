#!/bin/sh
# `make stop`: stops the mock servers `make run` started from this checkout.
#   sh scripts/stop-run.sh DIR    (DIR: where `make run` writes PORT.pid, the server's process id)
# A server is stopped only if that process is still a `t2i mock` (a pid file left by a server
# ended with Ctrl-C may name a process that has since taken the number). It gets SIGTERM, and
# SIGKILL if it has not gone after 30 s. Says what it did; exits 1 if a server would not stop.
set -u
dir=${1:-.make-run}

gone_within() {  # TENTHS PID: whether the process ends within that many tenths of a second
    tenths=0
    while kill -0 "$2" 2>/dev/null; do
        [ "$tenths" -lt "$1" ] || return 1
        sleep 0.1
        tenths=$((tenths + 1))
    done
}

found=0
status=0
for file in "$dir"/*.pid; do
    [ -f "$file" ] || continue
    port=$(basename "$file" .pid)
    pid=$(cat "$file")
    case "$pid" in ''|*[!0-9]*) rm -f "$file"; continue ;; esac
    if ! ps -p "$pid" -o args= 2>/dev/null | grep -q "t2i mock"; then
        rm -f "$file"  # that server has already ended
        continue
    fi
    found=1
    kill -TERM "$pid" 2>/dev/null
    if gone_within 300 "$pid"; then
        echo "make stop: stopped the mock on port $port (pid $pid)"
    else
        kill -KILL "$pid" 2>/dev/null
        echo "make stop: the mock on port $port (pid $pid) ignored SIGTERM for 30 s; killed it"
    fi
    if ! gone_within 50 "$pid"; then
        echo "make stop: the mock on port $port (pid $pid) is still running" >&2
        status=1
    else
        rm -f "$file"
    fi
done
[ "$found" = 1 ] || echo "make stop: no mock started by make run is running"
exit "$status"
