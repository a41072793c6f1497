// The image a container app runs now, or none before its first deploy. azd passes SERVICE_<NAME>_RESOURCE_EXISTS;
// without this, `azd provision` (from a fresh clone, or in CI) would put a deployed app back on the placeholder
// image. The same pattern as azd's own scaffold (fetch-container-image.bicep).
@description('Whether the container app already exists (SERVICE_<NAME>_RESOURCE_EXISTS).')
param exists bool

@description('Container app name.')
param name string

resource existingApp 'Microsoft.App/containerApps@2026-07-01' existing = if (exists) {
  name: name
}

output containers array = exists ? existingApp!.properties.template.containers : []
