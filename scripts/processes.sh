# Sourced by scripts/run_local.sh (`make run`) and scripts/run_stack.sh (`make stack`): start the platform's processes
# each in its own process group, wait until they answer, print the URLs, and stop every one of them on Ctrl-C, on
# SIGTERM, or as soon as one of them exits. The caller sets PY (the Python with the project installed) and
# READY_TIMEOUT_S (seconds to wait for each process to answer).

pids=()

stop_all() {
    trap - INT TERM EXIT
    if ((${#pids[@]})); then
        echo "stopping: ${pids[*]}" >&2
        # Each process leads its own process group (setsid): this also ends gunicorn's workers and trainings.
        for pid in "${pids[@]}"; do kill -TERM -- "-${pid}" 2>/dev/null || true; done
        for _ in $(seq 1 100); do
            alive=0
            for pid in "${pids[@]}"; do kill -0 "${pid}" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 0.1
        done
        for pid in "${pids[@]}"; do kill -KILL -- "-${pid}" 2>/dev/null || true; done
    fi
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

start() {  # start <name> <command...>: in its own process group, logging to this terminal's stderr
    local name=$1
    shift
    setsid "$@" >&2 &
    pids+=("$!")
    echo "started ${name} (pid $!)" >&2
}

wait_until_answers() {  # wait_until_answers <name> <url>: until <url> answers 2xx; gives up if a process has exited
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until "${PY}" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$2" 2>/dev/null; do
        for pid in "${pids[@]}"; do
            if ! kill -0 "${pid}" 2>/dev/null; then
                echo "process ${pid} exited while waiting for $1 ($2)" >&2
                exit 1
            fi
        done
        if ((SECONDS >= deadline)); then
            echo "$1 did not answer $2 within ${READY_TIMEOUT_S}s" >&2
            exit 1
        fi
        sleep 0.3
    done
}

announce() {  # announce <gateway port> <line...>: the URLs to open, then lines of the caller's
    local port=$1
    shift
    {
        echo
        echo "SalesML is running (Ctrl-C stops everything):"
        echo "  console    http://localhost:${port}/"
        echo "  API        http://localhost:${port}/api/v1"
        echo "  API docs   http://localhost:${port}/api/docs"
        echo "  health     http://localhost:${port}/health/ready"
        printf '  %s\n' "$@"
        echo
    } >&2
}

run_until_one_exits() {  # whichever process ends first (or Ctrl-C, or SIGTERM) ends the platform
    set +e
    wait -n "${pids[@]}"
    local status=$?
    echo "a process exited (status ${status}); stopping the rest" >&2
    exit "${status}"
}
