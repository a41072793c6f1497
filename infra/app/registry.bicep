// Container registry: azd builds the images remotely into it (no Docker engine needed on the deploying machine).
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Registry name (alphanumeric).')
param name string

// Pulled by the apps' managed identity (AcrPull); no admin user.
resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
