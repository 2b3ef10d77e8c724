#!/usr/bin/env bash
# Runs a Check runner (test/main.c) as N shards side by side, so that a stage bound to one core
# (valgrind, most ASan tests) uses them all: COMMAND with YL_TEST_SHARD=K/N for K = 1..N,
# each line of shard K's output shown as it comes with "[K/N] " before it, and kept whole in
# LOGDIR/shard-K.log. Fails if a shard fails or ends without Check's summary; its last two
# lines are the shards' summaries added up, as one runner prints them. N=1 runs COMMAND alone.
#   test/run_shards.sh N LOGDIR COMMAND [ARG...]
set -uo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 N LOGDIR COMMAND [ARG...]" >&2
    exit 2
fi
n=$1 logs=$2
shift 2
case $n in
    1) exec "$@" ;;
    [1-9] | [1-9][0-9]) ;;
    *) echo "$0: N=$n: want a number of shards from 1 to 64" >&2; exit 2 ;;
esac
mkdir -p "$logs"
rm -f "$logs"/shard-*.log

pids=()
for k in $(seq 1 "$n"); do
    (
        YL_TEST_SHARD=$k/$n "$@" 2>&1 | tee "$logs/shard-$k.log" | sed -u "s|^|[$k/$n] |"
        exit "${PIPESTATUS[0]}"
    ) &
    pids+=($!)
done

failed=0
for k in $(seq 1 "$n"); do
    wait "${pids[k - 1]}" || { echo "shard $k/$n failed (exit $?): $logs/shard-$k.log"; failed=1; }
done

checks=0 failures=0 errors=0
for k in $(seq 1 "$n"); do
    summary=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$logs/shard-$k.log" |
              tail -n 1)
    if [ -z "$summary" ]; then
        echo "shard $k/$n ended without Check's summary: $logs/shard-$k.log"
        failed=1
        continue
    fi
    read -r c f e <<< "$(tr -cs '0-9' ' ' <<< "$summary")"
    checks=$((checks + c)) failures=$((failures + f)) errors=$((errors + e))
done
# Check's own rounding: the share passed, truncated, and 100 only when none failed.
percent=100
if [ $((failures + errors)) -gt 0 ]; then
    percent=$(( checks > 0 ? (checks - failures - errors) * 100 / checks : 0 ))
fi
echo "$percent%: Checks: $checks, Failures: $failures, Errors: $errors"
echo "$((checks - failures - errors)) passed, $((failures + errors)) failed"
exit $failed
