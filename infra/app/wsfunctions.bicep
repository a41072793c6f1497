// WsFunctions as a Functions app on Container Apps (kind functionapp): always on, exactly one replica, so the
// timer and the ws:events consumer run once. Its host storage is reached with its own managed identity.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Container app name.')
param name string

@description('Container Apps environment id.')
param environmentId string

@description('Whether the app was deployed before (azd: SERVICE_WSFUNCTIONS_RESOURCE_EXISTS); until then it runs the placeholder image.')
param exists bool

@description('User-assigned identity (resource id).')
param identityId string

@description('Client id of that identity, for DefaultAzureCredential and the host storage.')
param identityClientId string

@description('Registry login server.')
param registryServer string

@description('Azure Managed Redis host name.')
param redisHost string

@description('Storage account of the Functions host.')
param storageAccountName string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('NCRONTAB schedule of CleanupStaleEntries.')
param cleanupSchedule string = '*/15 * * * * *'

@description('Address ranges (CIDR) allowed to reach the admin API; empty allows any address (function keys still apply).')
param adminAllowedIpRanges array

@description('The per-session Ws settings (Ws__SessionTtlSeconds, ...), the same list for both apps (see main.bicep).')
param sessionPolicyEnv array

@description('The Upstream settings (Upstream__Url, ...), the same list for both apps (see main.bicep); the signing key is a secretRef.')
param upstreamEnv array

@secure()
@description('The upstream signing key, kept as the app\'s secret upstream-signing-key; empty when upstream is off.')
param upstreamSigningKey string

// The port the Functions host listens on in its base image (ASPNETCORE_URLS=http://+:80; WsFunctions/Dockerfile
// keeps it). The host runs as the base image's user (root): it writes
// its key secrets under /azure-functions-host/Secrets, which an unprivileged user cannot.
var port = 80

// Before the first deploy the app runs azd's placeholder image (it listens on port 80 too).
var placeholder = !exists
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

// The Functions host id names the host's key secrets and the timer's lock in storage. Left to the platform it may
// follow the revision or replica name, so keys and the lock would change with each revision; this one is stable
// (at most 32 lowercase letters, digits and dashes).
var hostId = take(toLower(name), 32)

// The image running now, kept across `azd provision`.
module current 'fetch-image.bicep' = {
  name: '${name}-image'
  params: {
    exists: exists
    name: name
  }
}

// The reconciler, the cleanup timer and the admin API.
resource wsfunctions 'Microsoft.App/containerApps@2026-07-01' = {
  name: name
  location: location
  kind: 'functionapp'
  tags: union(tags, { 'azd-service-name': 'wsfunctions' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // External, so an operator can call the admin API from anywhere with a function key; narrow it with
      // adminAllowedIpRanges. (Internal ingress would need the environment in a virtual network.)
      ingress: {
        external: true
        targetPort: port
        allowInsecure: false
        ipSecurityRestrictions: [
          for (range, i) in adminAllowedIpRanges: { name: 'admin-${i}', ipAddressRange: range, action: 'Allow' }
        ]
      }
      registries: [
        { server: registryServer, identity: identityId }
      ]
      secrets: empty(upstreamSigningKey) ? [] : [{ name: 'upstream-signing-key', value: upstreamSigningKey }]
    }
    template: {
      containers: [
        {
          name: 'wsfunctions'
          image: placeholder ? placeholderImage : current.outputs.containers[?0].?image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat([
            { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
            { name: 'AzureFunctionsWebHost__hostid', value: hostId }
            { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
            { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
            { name: 'Redis__Host', value: redisHost }
            { name: 'Redis__UseEntraId', value: 'true' }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
            { name: 'AzureMonitor__UseEntraId', value: 'true' }
            { name: 'Cleanup__Schedule', value: cleanupSchedule }
          ], sessionPolicyEnv, upstreamEnv)
          // No probes of our own: the platform's default TCP probes on the target port serve both the placeholder
          // and the Functions host, which has no health route of its own that an anonymous probe could call.
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output url string = 'https://${wsfunctions.properties.configuration.ingress.fqdn}'
output name string = wsfunctions.name
