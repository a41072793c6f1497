// The Container Apps environment both apps run in, logging to Log Analytics.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Environment name.')
param name string

@description('Log Analytics workspace for the environment logs.')
param logAnalyticsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

// Consumption workload profile; WsApp and WsFunctions share it.
resource environment 'Microsoft.App/managedEnvironments@2026-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
    ]
  }
}

output id string = environment.id
