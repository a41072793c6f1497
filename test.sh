#!/usr/bin/env bash
# Runs every test of ServerlessWs: installs what the tests need when it is missing, then `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test.sh: installing redis-server (the tests start their own on loopback ports)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

dotnet build ServerlessWs.sln -c Release -warnaserror --nologo -v quiet
dotnet test ServerlessWs.sln -c Release --no-build --nologo --logger "console;verbosity=minimal"
