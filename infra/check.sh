#!/usr/bin/env bash
# Offline checks of the deployment (nothing here can reach Azure): infra/main.bicep compiles and lints with no
# warning, and azure.yaml matches azd's schema (the copy in infra/schema, with its licence and source).
# Called by ./test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet restore infra/tools/BicepCli.csproj --nologo -v quiet
bicep="$(dotnet msbuild infra/tools/BicepCli.csproj -getProperty:PkgAzure_Bicep_CommandLine_linux-x64)/tools/bicep"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

"$bicep" build infra/main.bicep --outdir "$logs" 2>&1 | tee "$logs/build.log"
"$bicep" lint infra/main.bicep 2>&1 | tee "$logs/lint.log"
# bicep exits 0 on warnings (compiler warnings such as BCP035 are not linter rules): any warning fails here.
if grep -E ': (Warning|Error) ' "$logs/build.log" "$logs/lint.log"; then
  echo "infra: bicep reported warnings or errors" >&2
  exit 1
fi

schemas=infra/schema
npx --yes ajv-cli@5.0.0 validate --spec=draft2019 --strict=false \
  -s "$schemas/azure.yaml.json" -r "$schemas/azure.yaml.ext-stubs/*.json" -d azure.yaml
echo "infra: bicep build and lint clean, azure.yaml valid"
