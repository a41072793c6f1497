// WsFunctions as a Functions app on Container Apps (kind functionapp): always on, exactly one replica, so the
// timer and the ws:events consumer run once. Its host storage is reached with the managed identity.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Container app name.')
param name string

@description('Container Apps environment id.')
param environmentId string

@description('Image to run.')
param image string

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
      ingress: {
        external: true
        targetPort: 8080
        allowInsecure: false
      }
      registries: [
        { server: registryServer, identity: identityId }
      ]
    }
    template: {
      containers: [
        {
          name: 'wsfunctions'
          image: image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: [
            { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
            { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
            { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
            { name: 'Redis__Host', value: redisHost }
            { name: 'Redis__UseEntraId', value: 'true' }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
            { name: 'Cleanup__Schedule', value: cleanupSchedule }
          ]
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
