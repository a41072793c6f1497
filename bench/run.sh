#!/usr/bin/env bash
# The benchmark: one redis-server, two WsApp nodes (Release) and two seed-node nodes on loopback; every scenario
# against both systems in the same run (one system's servers at a time, so they do not share the cores); one
# table of WsApp / seed-node. Takeover, resume, fanout, broadcast (groups: the seed has none), invoke (upstream:
# none either) and scale are WsApp only. Writes bench/results/<date>.md. Everything is bounded and stops by itself.
#   bench/run.sh            the full run (defaults of the issue: 10,000 connections, 60 s idle hold, ...)
#   bench/run.sh --quick    a smoke run: a few hundred connections, a few seconds each
#   bench/run.sh --no-scale the full run without the scale steps
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0; SUFFIX=""; NOTE=""; SCALE_RUN=1
if [ "${1:-}" = "--quick" ]; then QUICK=1; SUFFIX="-quick"; NOTE=" (quick smoke run: figures are not meaningful)"; fi
# Everything but the scale steps (about three minutes of holds): the whole run then fits a ten-minute window.
if [ "${1:-}" = "--no-scale" ]; then SCALE_RUN=0; SUFFIX="-no-scale"; NOTE=" (scale skipped)"; fi
if [ "$QUICK" = 1 ]; then
  IDLE=(--connections 300 --settle-seconds 1 --hold-seconds 2)
  ROUTE=(--pairs 50 --rate 500 --duration-seconds 2)
  MAX=(--pairs 50 --rates 500,1000 --duration-seconds 2)
  ROUNDS=(--rounds 5)
  SCALE=(--steps 200,400 --per-process 150 --settle-seconds 1 --hold-seconds 2)
  FANOUT=(--members 100 --rate 10 --duration-seconds 2)
  BROADCAST=(--connections 300 --rate 2 --duration-seconds 2)
  INVOKE=(--clients 20 --rate 100 --duration-seconds 2)
  EVENT=(--clients 50 --rate 500 --duration-seconds 2)
  DISPATCH=(--backlog 2000 --limit-seconds 30)
else
  IDLE=(--connections 10000 --settle-seconds 5 --hold-seconds 60)
  ROUTE=(--pairs 500 --rate 5000 --duration-seconds 20)
  MAX=(--pairs 500 --rates 5000,10000,20000,40000,80000 --duration-seconds 10)
  ROUNDS=(--rounds 100)
  # About 19,000 on one node: a process may hold 20,000 open files here, so the clients come from several processes.
  SCALE=(--steps 5000,10000,19000 --per-process 5000 --settle-seconds 5 --hold-seconds 60)
  # Issue 16's load: 1,000 members of one group over the two nodes, 10 group messages a second from a non-member.
  FANOUT=(--members 1000 --rate 10 --duration-seconds 20)
  # 10,000 sockets in the one load-tool process: within its 20,000 open files (the nodes hold theirs apart).
  BROADCAST=(--connections 10000 --rate 2 --duration-seconds 10)
  # Issue 20's load: 1,000 invokes a second over the two nodes, to a handler (in the load tool) that answers at once.
  INVOKE=(--clients 200 --rate 1000 --duration-seconds 20)
  # And 5,000 durable events a second over the two nodes, after direct sends at the same rate (the comparison).
  EVENT=(--clients 500 --rate 5000 --duration-seconds 20)
  # A 50,000-event backlog drained by the dispatcher (WsFunctions' hosted service in a plain host) to that handler.
  DISPATCH=(--backlog 50000 --limit-seconds 120)
fi
# The upstream handler the load tool hosts; both WsApp nodes call it (Upstream:Url).
HANDLER_PORT=${HANDLER_PORT:-5210}

REDIS_PORT=${REDIS_PORT:-6391}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

command -v redis-server >/dev/null || { echo "bench: redis-server is missing (./test.sh installs it)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench: node is missing (apt-get install nodejs npm)" >&2; exit 1; }

echo "bench: building" >&2
dotnet build WsApp -c Release --nologo -v quiet >/dev/null
dotnet build bench/WsBench -c Release --nologo -v quiet >/dev/null
dotnet build tests/DispatcherHost -c Release --nologo -v quiet >/dev/null
BENCH=(dotnet bench/WsBench/bin/Release/net10.0/WsBench.dll)
cp -r bench/seed-node "$WORK/seed-node" && chmod -R u+w "$WORK/seed-node"
(cd "$WORK/seed-node" && npm install --no-audit --no-fund --silent >/dev/null)

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
REDIS_PID=$!; PIDS+=($REDIS_PID)
sleep 0.5

wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "bench: $1 did not come up" >&2; exit 1; }

FAILED=()
scenario() { # system urls pids scenario options...: a failed scenario is reported, and the run goes on
  local system=$1 urls=$2 pids=$3 name=$4; shift 4
  "${BENCH[@]}" "$name" --system "$system" --urls "$urls" --pids "$pids" "$@" >>"$WORK/$system.jsonl" \
    || FAILED+=("$system $name")
}

run_scenarios() { # system urls pids [wsapp-only]
  scenario "$1" "$2" "$3" idle "${IDLE[@]}"
  scenario "$1" "$2" "$3" route "${ROUTE[@]}"
  scenario "$1" "$2" "$3" max "${MAX[@]}"
  if [ "${4:-}" = wsapp-only ]; then
    scenario "$1" "$2" "$3" takeover "${ROUNDS[@]}"
    scenario "$1" "$2" "$3" resume "${ROUNDS[@]}"
    # Groups (contract v2 §5b): the seed has none. Broadcast sends as the admin API does, through WsCore on this redis.
    scenario "$1" "$2" "$3" fanout "${FANOUT[@]}" --redis-pid "$REDIS_PID"
    scenario "$1" "$2" "$3" broadcast "${BROADCAST[@]}" --redis "127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID"
    # Upstream (§7): the seed has no handler calls.
    scenario "$1" "$2" "$3" invoke "${INVOKE[@]}" --handler-port "$HANDLER_PORT"
    # Before event: the dispatcher drains every stored event, so the backlog must be this scenario's alone.
    scenario "$1" "$2" "$3" dispatch "${DISPATCH[@]}" --handler-port "$HANDLER_PORT" --redis "127.0.0.1:$REDIS_PORT" \
      --dispatcher tests/DispatcherHost/bin/Release/net10.0/DispatcherHost.dll
    scenario "$1" "$2" "$3" event "${EVENT[@]}"
  fi
}

echo "bench: WsApp" >&2
APP=()
for n in 1 2; do
  Redis__ConnectionString="127.0.0.1:$REDIS_PORT" Ws__ServerId="bench-$n" Logging__LogLevel__Default=Warning \
    Upstream__Url="http://127.0.0.1:$HANDLER_PORT/handler" Upstream__SigningKeys__0="bench-only-signing-key-of-32-characters-or-more" \
    dotnet WsApp/bin/Release/net10.0/WsApp.dll --urls "http://127.0.0.1:520$n" >"$WORK/wsapp-$n.log" 2>&1 &
  APP+=($!); PIDS+=($!)
done
wait_http http://127.0.0.1:5201/healthz; wait_http http://127.0.0.1:5202/healthz
run_scenarios wsapp "ws://127.0.0.1:5201/ws,ws://127.0.0.1:5202/ws" "${APP[0]},${APP[1]}" wsapp-only
kill "${APP[@]}" 2>/dev/null || true; wait "${APP[@]}" 2>/dev/null || true

# Scale on a fresh node, alone on the machine: memory the earlier scenarios left committed would flatter it.
if [ "$SCALE_RUN" = 1 ]; then
Redis__ConnectionString="127.0.0.1:$REDIS_PORT" Ws__ServerId="bench-scale" Logging__LogLevel__Default=Warning \
  dotnet WsApp/bin/Release/net10.0/WsApp.dll --urls "http://127.0.0.1:5203" >"$WORK/wsapp-scale.log" 2>&1 &
SCALE_PID=$!; PIDS+=($SCALE_PID)
wait_http http://127.0.0.1:5203/healthz
scenario wsapp "ws://127.0.0.1:5203/ws" "$SCALE_PID" scale "${SCALE[@]}"
kill "$SCALE_PID" 2>/dev/null || true; wait "$SCALE_PID" 2>/dev/null || true
fi

echo "bench: seed-node" >&2
SEED=()
for n in 1 2; do
  PORT="530$n" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" SERVER_ID="seed-$n" node "$WORK/seed-node/server.js" >"$WORK/seed-$n.log" 2>&1 &
  SEED+=($!); PIDS+=($!)
done
sleep 1
run_scenarios seed-node "ws://127.0.0.1:5301/,ws://127.0.0.1:5302/" "${SEED[0]},${SEED[1]}"
# A server may have died under the heaviest step already.
kill "${SEED[@]}" 2>/dev/null || true; wait "${SEED[@]}" 2>/dev/null || true

mkdir -p bench/results
result="bench/results/$(date -u +%Y-%m-%d)$SUFFIX.md"
{
  echo "# Benchmark $(date -u +%Y-%m-%dT%H:%MZ)$NOTE"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version), node $(node --version), $(redis-server --version | cut -d' ' -f3)."
  echo "Both systems on the same machine in the same run, one system's servers at a time; the load tool shares the cores."
  echo
  "${BENCH[@]}" report "$WORK/wsapp.jsonl" "$WORK/seed-node.jsonl"
  if ((${#FAILED[@]})); then echo; echo "Scenarios that failed (no figures): ${FAILED[*]}."; fi
} >"$result"
cat "$WORK/wsapp.jsonl" "$WORK/seed-node.jsonl" >"${result%.md}.jsonl" 2>/dev/null || true
cat "$result"
echo "bench: written to $result" >&2
((${#FAILED[@]} == 0))
