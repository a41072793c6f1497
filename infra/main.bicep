// ServerlessWs on Azure: WsApp and WsFunctions on Container Apps, Azure Managed Redis with Entra ID access,
// telemetry to Application Insights, and a workbook as the dashboard. Deployed by `azd up`.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names and tags every resource.')
param environmentName string

// Regions that offer both Azure Managed Redis and Azure Container Apps (with workload profiles), as Azure's
// products-by-region pages listed them when this was written; both services keep adding regions, so a region
// missing here may well work: check both services' availability and add it.
@minLength(1)
@description('Azure region for every resource.')
@allowed([
  'australiaeast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'uksouth'
  'westeurope'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('WsApp was deployed before (azd sets SERVICE_WSAPP_RESOURCE_EXISTS): provisioning keeps its image.')
param wsappExists bool = false

@description('WsFunctions was deployed before (azd sets SERVICE_WSFUNCTIONS_RESOURCE_EXISTS): provisioning keeps its image.')
param wsfunctionsExists bool = false

@minValue(1)
@description('Smallest number of WsApp replicas (long-lived sockets: at least one is always up).')
param wsappMinReplicas int = 1

@minValue(1)
@description('Largest number of WsApp replicas.')
param wsappMaxReplicas int = 10

@description('Origins browser clients may connect from (Ws:AllowedOrigins), comma-separated, e.g. "https://app.example"; empty allows any origin.')
param allowedOrigins string = ''

@minValue(0)
@description('Connects per client address per second to WsApp (Ws:ConnectsPerSecondPerAddress); 0 is no limit.')
param connectsPerSecondPerAddress int = 0

@description('OpenID Connect authority whose keys sign client tokens (Auth:Jwt:Authority); empty leaves client authentication off.')
param clientAuthAuthority string = ''

@description('Audience a client token must name (Auth:Jwt:Audience); required with an authority.')
param clientAuthAudience string = ''

@description('A client token\'s subject must equal its clientId (Auth:BindClientIdToSubject).')
param bindClientIdToSubject bool = false

@description('Address ranges (CIDR) allowed to reach the admin API, comma-separated, e.g. "203.0.113.0/24"; empty allows any address (function keys still apply).')
param adminAllowedIpRanges string = ''

@minValue(0)
@description('Seconds a disconnected clientId stays resumable (Ws:SessionTtlSeconds), for both apps; 0 keeps the default.')
param sessionTtlSeconds int = 0

@minValue(0)
@description('Messages kept per client and per group for replay (Ws:LogMaxMessages), for both apps; 0 keeps the default.')
param logMaxMessages int = 0

@minValue(0)
@description('Age limit in seconds of those messages (Ws:LogMaxAgeSeconds), for both apps; 0 keeps the default.')
param logMaxAgeSeconds int = 0

@minValue(0)
@description('Largest message in bytes (Ws:MaxMessageBytes), for client frames and admin bodies alike; 0 keeps the default.')
param maxMessageBytes int = 0

@description('The application\'s upstream handler (Upstream:Url): an absolute http(s) URL that hears client events and invokes; empty leaves upstream off (event and invoke answer not-configured).')
param upstreamUrl string = ''

@secure()
@description('Key the handler\'s requests are signed with (Upstream:SigningKeys:0), at least 32 characters; required with upstreamUrl. Stored as a Container Apps secret of both apps.')
param upstreamSigningKey string = ''

@description('Lifecycle events sent to the handler (Upstream:LifecycleEvents), comma-separated, of connected, disconnected, takeover; empty sends none.')
param upstreamLifecycleEvents string = ''

@minValue(0)
@description('Calls the dispatcher makes for one event before it parks it as a dead letter (Upstream:MaxAttempts); 0 keeps the default.')
param upstreamMaxAttempts int = 0

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

// Per-session policy travels with each store call from whichever app makes it (an admin send trims a log as a
// client's send does), so both apps get the same Ws settings. One left at 0 is not set: the one default, in
// WsCore's WsOptions, applies to both.
var sessionPolicy = {
  SessionTtlSeconds: sessionTtlSeconds
  LogMaxMessages: logMaxMessages
  LogMaxAgeSeconds: logMaxAgeSeconds
  MaxMessageBytes: maxMessageBytes
}
var sessionPolicyEnv = map(filter(items(sessionPolicy), setting => setting.value > 0), setting => {
  name: 'Ws__${setting.key}'
  value: string(setting.value)
})
// Upstream: both apps need it (WsApp stores events and calls invoke, WsFunctions dispatches). The signing key goes in
// as a secret of each app, referenced by name, so it is never plain text in the app's environment.
var upstreamLifecycleList = empty(upstreamLifecycleEvents) ? [] : map(split(upstreamLifecycleEvents, ','), e => trim(e))
var upstreamEnv = empty(upstreamUrl)
  ? []
  : concat(
      [
        { name: 'Upstream__Url', value: upstreamUrl }
        { name: 'Upstream__SigningKeys__0', secretRef: 'upstream-signing-key' }
      ],
      upstreamMaxAttempts > 0 ? [{ name: 'Upstream__MaxAttempts', value: string(upstreamMaxAttempts) }] : [],
      map(range(0, length(upstreamLifecycleList)), i => { name: 'Upstream__LifecycleEvents__${i}', value: upstreamLifecycleList[i] })
    )
// Lists arrive as comma-separated strings: azd fills parameters from environment variables (main.parameters.json).
var allowedOriginList = empty(allowedOrigins) ? [] : map(split(allowedOrigins, ','), origin => trim(origin))
var adminAllowedIpRangeList = empty(adminAllowedIpRanges) ? [] : map(split(adminAllowedIpRanges, ','), range => trim(range))

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

// One identity per app, so WsApp cannot read the storage that holds the admin API's keys.
module wsappIdentity 'app/identity.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}wsapp-${resourceToken}'
    registryName: registry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module wsfunctionsIdentity 'app/identity.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}wsfn-${resourceToken}'
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
    principalIds: [wsappIdentity.outputs.principalId, wsfunctionsIdentity.outputs.principalId]
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
    exists: wsappExists
    identityId: wsappIdentity.outputs.id
    identityClientId: wsappIdentity.outputs.clientId
    registryServer: registry.outputs.loginServer
    redisHost: redis.outputs.host
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    minReplicas: wsappMinReplicas
    maxReplicas: wsappMaxReplicas
    allowedOrigins: allowedOriginList
    connectsPerSecondPerAddress: connectsPerSecondPerAddress
    jwtAuthority: clientAuthAuthority
    jwtAudience: clientAuthAudience
    bindClientIdToSubject: bindClientIdToSubject
    sessionPolicyEnv: sessionPolicyEnv
    upstreamEnv: upstreamEnv
    upstreamSigningKey: upstreamSigningKey
  }
}

module wsfunctions 'app/wsfunctions.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.appContainerApps}wsfn-${resourceToken}'
    environmentId: environment.outputs.id
    exists: wsfunctionsExists
    identityId: wsfunctionsIdentity.outputs.id
    identityClientId: wsfunctionsIdentity.outputs.clientId
    registryServer: registry.outputs.loginServer
    redisHost: redis.outputs.host
    storageAccountName: storage.outputs.name
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    adminAllowedIpRanges: adminAllowedIpRangeList
    sessionPolicyEnv: sessionPolicyEnv
    upstreamEnv: upstreamEnv
    upstreamSigningKey: upstreamSigningKey
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
output WSFUNCTIONS_NAME string = wsfunctions.outputs.name
output REDIS_HOST string = redis.outputs.host
output DASHBOARD_ID string = dashboard.outputs.id
