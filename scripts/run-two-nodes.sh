#!/usr/bin/env bash
# Two WsApp nodes on one local redis-server, as one service: ws://127.0.0.1:5001/ws and ws://127.0.0.1:5002/ws.
# Ctrl+C stops all three. Needs redis-server (./test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT=${REDIS_PORT:-6390}
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM

dotnet build WsApp -c Release --nologo -v quiet
for n in 1 2; do
  Redis__ConnectionString="127.0.0.1:$REDIS_PORT" Ws__ServerId="node-$n" \
    dotnet WsApp/bin/Release/net10.0/WsApp.dll --urls "http://127.0.0.1:500$n" &
  pids+=($!)
done
echo "node-1: ws://127.0.0.1:5001/ws   node-2: ws://127.0.0.1:5002/ws   (Ctrl+C to stop)"
wait
