// The dashboard: an Azure Monitor workbook over Application Insights' customMetrics. Its queries name the
// instruments of WsCore/Telemetry/WsMetrics.cs; a test holds the two to each other.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Workbook display name.')
param name string

@description('Application Insights the workbook reads.')
param appInsightsId string

// Shared workbook, listed under the Application Insights resource.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, name)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'ServerlessWs (${name})'
    category: 'workbook'
    sourceId: appInsightsId
    // fallbackResourceIds: the resource the queries run against when the workbook is opened by its id or from a
    // pin, not from the Application Insights resource's Workbooks blade.
    serializedData: string(union(loadJsonContent('../dashboard.workbook.json'), { fallbackResourceIds: [appInsightsId] }))
  }
}

output id string = workbook.id
