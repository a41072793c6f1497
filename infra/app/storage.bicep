// The storage account the Functions host needs (AzureWebJobsStorage), reached with the managed identity only.
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Storage account name (lowercase alphanumeric).')
param name string

// Identity-based access only: shared keys are off.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

output name string = storage.name
