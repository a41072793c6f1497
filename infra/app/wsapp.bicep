// WsApp: holds the sockets. External ingress over HTTP/1.1 (WebSockets), health probes, scaled on CPU and
// memory (the HTTP rule counts a request rate, and an open socket is one request), a termination grace longer
// than the drain.
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

@description('Client id of that identity, for DefaultAzureCredential.')
param identityClientId string

@description('Registry login server.')
param registryServer string

@description('Azure Managed Redis host name.')
param redisHost string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@minValue(1)
@description('Smallest replica count.')
param minReplicas int

@minValue(1)
@description('Largest replica count.')
param maxReplicas int

@description('Seconds over which open sockets get 1001 on shutdown (Ws:DrainSeconds).')
param drainSeconds int = 20

// The WebSocket service.
resource wsapp 'Microsoft.App/containerApps@2026-07-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'wsapp' })
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
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        { server: registryServer, identity: identityId }
      ]
    }
    template: {
      // Drain (1001 closes spread over drainSeconds) plus the close handshakes it starts.
      terminationGracePeriodSeconds: drainSeconds + 15
      containers: [
        {
          name: 'wsapp'
          image: image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: [
            { name: 'Redis__Host', value: redisHost }
            { name: 'Redis__UseEntraId', value: 'true' }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
            { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
            { name: 'Ws__DrainSeconds', value: string(drainSeconds) }
            // Pings well inside the ingress's 240 s idle timeout.
            { name: 'Ws__HeartbeatSeconds', value: '30' }
          ]
          probes: [
            { type: 'Liveness', httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 5 }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          { name: 'cpu', custom: { type: 'cpu', metadata: { type: 'Utilization', value: '70' } } }
          { name: 'memory', custom: { type: 'memory', metadata: { type: 'Utilization', value: '75' } } }
        ]
      }
    }
  }
}

output url string = 'https://${wsapp.properties.configuration.ingress.fqdn}'
