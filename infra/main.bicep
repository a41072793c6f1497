// ServerlessWs on Azure: WsApp and WsFunctions on Container Apps, Azure Managed Redis with Entra ID access,
// telemetry to Application Insights, and a workbook as the dashboard. Deployed by `azd up`.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@description('WsApp image; azd sets it on deploy (a placeholder image until then).')
param wsappImage string

@description('WsFunctions image; azd sets it on deploy (a placeholder image until then).')
param wsfunctionsImage string

@minValue(1)
@description('Smallest number of WsApp replicas (long-lived sockets: at least one is always up).')
param wsappMinReplicas int = 1

@minValue(1)
@description('Largest number of WsApp replicas.')
param wsappMaxReplicas int = 10

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

// Everything lives in one resource group per environment.
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
  }
}

module registry 'app/registry.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.containerRegistryRegistries}${resourceToken}'
  }
}

module storage 'app/storage.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
  }
}

module identity 'app/identity.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    registryName: registry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    storageAccountName: storage.outputs.name
  }
}

module redis 'app/redis.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.cacheRedisEnterprise}${resourceToken}'
    principalId: identity.outputs.principalId
  }
}

module environment 'app/environment.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.appManagedEnvironments}${resourceToken}'
    logAnalyticsName: monitoring.outputs.logAnalyticsName
  }
}

module wsapp 'app/wsapp.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.appContainerApps}wsapp-${resourceToken}'
    environmentId: environment.outputs.id
    image: wsappImage
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: registry.outputs.loginServer
    redisHost: redis.outputs.host
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    minReplicas: wsappMinReplicas
    maxReplicas: wsappMaxReplicas
  }
}

module wsfunctions 'app/wsfunctions.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.appContainerApps}wsfn-${resourceToken}'
    environmentId: environment.outputs.id
    image: wsfunctionsImage
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: registry.outputs.loginServer
    redisHost: redis.outputs.host
    storageAccountName: storage.outputs.name
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
  }
}

module dashboard 'app/dashboard.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.insightsWorkbooks}${resourceToken}'
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = environment.outputs.id
output WSAPP_URL string = wsapp.outputs.url
output WSFUNCTIONS_URL string = wsfunctions.outputs.url
output REDIS_HOST string = redis.outputs.host
output DASHBOARD_ID string = dashboard.outputs.id
