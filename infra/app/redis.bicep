// Azure Managed Redis: OSS cluster policy (the code keeps every script in one hash slot), no eviction (the
// registry must not lose entries under memory pressure), and Entra ID access only (access keys off).
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Managed Redis name.')
param name string

@description('Object id of the managed identity that gets data access.')
param principalId string

@description('Managed Redis SKU.')
param skuName string = 'Balanced_B0'

// The cache.
resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// Its one database: TLS on port 10000.
resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: redis
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'OSSCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Disabled'
  }
}

// Data access for the apps' identity: its object id becomes a Redis user with the default policy.
resource access 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: 'apps'
  properties: {
    accessPolicyName: 'default'
    user: { objectId: principalId }
  }
}

output host string = redis.properties.hostName
