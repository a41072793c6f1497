// Azure Managed Redis: OSS cluster policy (the code keeps every script in one hash slot), no eviction (the
// registry must not lose entries under memory pressure), and Entra ID access only (access keys off).
// Network: public endpoint with TLS and Entra ID only. For a private endpoint instead, put the Container Apps
// environment in a virtual network, add a Microsoft.Network/privateEndpoints for this cache (group id
// 'redisEnterprise') with a privatelink.redis.azure.net DNS zone linked to that network, and set
// publicNetworkAccess to 'Disabled' (see docs/deploy.md).
@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Managed Redis name.')
param name string

@description('Object ids of the managed identities that get data access (one per app).')
param principalIds array

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

// Data access for each app's identity: its object id becomes a Redis user with the default policy. One at a time:
// the database accepts one change of its access policy assignments at a time.
@batchSize(1)
resource access 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = [
  for (principalId, i) in principalIds: {
    parent: database
    name: 'app${i}'
    properties: {
      accessPolicyName: 'default'
      user: { objectId: principalId }
    }
  }
]

output host string = redis.properties.hostName
