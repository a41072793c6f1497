#!/usr/bin/env bash
# Runs every test of ServerlessWs: installs what the tests need when it is missing, runs the offline infra
# checks, then builds (warnings are errors in every project) and runs `dotnet test`. Ends with one "N passed, N failed" line over all test projects.
set -euo pipefail
cd "$(dirname "$0")"

# apt_install PACKAGE WHY: apt-get install, as root or through sudo.
apt_install() {
  echo "test.sh: installing $1 ($2)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$1" >/dev/null
}
command -v redis-server >/dev/null 2>&1 || apt_install redis-server "the tests start their own on loopback ports"
[ -x /usr/bin/chromium ] || apt_install chromium "the browser tests drive Debian's build; Playwright downloads none"
command -v npx >/dev/null 2>&1 || apt_install npm "with nodejs: the azure.yaml schema check runs ajv-cli"

# Bicep and azure.yaml, checked offline.
infra/check.sh

# Our projects treat warnings as errors (Directory.Build.props); a global -warnaserror would also hit the
# extensions project the Functions SDK generates, whose NuGet warnings (NU1603) are not ours to fix.
dotnet build ServerlessWs.sln -c Release --nologo -v quiet

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rm -rf tests/Chaos.Tests/bin/Release/net10.0/reliability
status=0
# A test that hangs fails after 5 minutes (the longest takes well under one) instead of holding CI forever.
dotnet test ServerlessWs.sln -c Release --no-build --nologo --logger "console;verbosity=minimal" \
  --blame-hang-timeout 5m --blame-hang-dump-type none 2>&1 | tee "$log" || status=$?

# The WsApp tests a second time with the fast upgrade path off (Ws:FastUpgrade=false): every upgrade then goes
# through Kestrel and the HTTP pipeline, and must behave alike. Tests of the fast path itself pin it on.
Ws__FastUpgrade=false dotnet test tests/WsApp.Tests -c Release --no-build --nologo --logger "console;verbosity=minimal" \
  --blame-hang-timeout 5m --blame-hang-dump-type none 2>&1 | tee -a "$log" || status=$?

# The chaos suite's figures (the table of docs/reliability.md).
report=tests/Chaos.Tests/bin/Release/net10.0/reliability/reliability.md
if [ -f "$report" ]; then
  echo "Reliability (tests/Chaos.Tests):"
  cat "$report"
fi

if [ "$status" -ne 0 ]; then echo "test.sh: dotnet test exited with $status (a failed or aborted test run)"; fi

# dotnet test prints one summary per test project; add them up into the line CI reads.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(/,/, ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1) }
     }
     END { printf "%d passed, %d failed\n", p, f }' "$log"

exit "$status"
