// One user-assigned identity for one app, with only the roles that app needs: WsApp's cannot read the Functions
// host's storage (where the admin API's keys live); only WsFunctions' gets the storage roles. Redis access is
// granted separately, by a Redis access-policy assignment (redis.bicep), not by an RBAC role.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Identity name.')
param name string

@description('Registry the app pulls its images from.')
param registryName string

@description('Application Insights the app publishes telemetry to (its exporter signs in with this identity).')
param appInsightsName string

@description('Storage account of the Functions host, for the WsFunctions identity only; empty for WsApp.')
param storageAccountName string = ''

var roles = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
var storageRoles = empty(storageAccountName)
  ? []
  : [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]

// The app's identity.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(storageAccountName)) {
  name: storageAccountName
}

// Pull images from the registry.
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, identity.id, roles.acrPull)
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

// Publish telemetry to Application Insights: the apps' Azure Monitor exporters authenticate with this identity
// (AzureMonitor__UseEntraId), so their telemetry is accepted even where local authentication is turned off.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Blobs, queues and tables of the Functions host's storage, one assignment each (WsFunctions only).
resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageRoles: {
    scope: storage
    name: guid(storage.id, identity.id, role)
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
