#!/usr/bin/env bash
# Leastconn alone vs leastconn + agent weights through a real HAProxy:
# REPEAT rounds, each running `sledge cluster up` (3 instances of
# examples/cluster.toml, WORKERS workers each) once with --no-agent and
# once without, and `sledge bench --target` on its frontend. Reports go to
# results/cluster-bench/VARIANT-ROUND/. Used by `make bench-cluster`.
set -euo pipefail
cd "$(dirname "$0")/.."
SLEDGE=${SLEDGE:-bin/sledge}
REPEAT=${REPEAT:-3}
WORKERS=${WORKERS:-2,2,1}
out=results/cluster-bench
mkdir -p "$out"
for r in $(seq "$REPEAT"); do
  for v in noagent agent; do
    flag=(); [ "$v" = noagent ] && flag=(--no-agent)
    "$SLEDGE" cluster up --instances 3 --workers "$WORKERS" --config examples/cluster.toml \
      "${flag[@]}" --out "$out/haproxy-$v" >/dev/null 2>"$out/cluster-$v-$r.log" &
    pid=$!
    for _ in $(seq 150); do curl -sf -o /dev/null --data 1 http://127.0.0.1:10010/fib && break; sleep 0.2; done
    sleep 2 # a few agent and health checks
    "$SLEDGE" bench --workload examples/workloads/cluster-bimodal.toml --target http://127.0.0.1:10010 \
      --policies "leastconn-$v" --out "$out/$v-$r" --log-level warn | grep -E '^(POLICY|leastconn)'
    kill -TERM "$pid"; wait "$pid" || true
  done
done
