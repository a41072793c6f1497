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

@description('Whether the app was deployed before (azd: SERVICE_WSAPP_RESOURCE_EXISTS); until then it runs the placeholder image.')
param exists bool

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

@description('Allowed Origin values of browser clients (Ws:AllowedOrigins); empty allows any.')
param allowedOrigins array

@minValue(0)
@description('Connects per client address per second (Ws:ConnectsPerSecondPerAddress); 0 is no limit.')
param connectsPerSecondPerAddress int

@description('OpenID Connect authority that signs client tokens (Auth:Jwt:Authority); empty turns client authentication off.')
param jwtAuthority string

@description('Audience a client token must name (Auth:Jwt:Audience); required with an authority.')
param jwtAudience string

@description('A client token\'s subject must equal its clientId (Auth:BindClientIdToSubject).')
param bindClientIdToSubject bool

@description('The per-session Ws settings (Ws__SessionTtlSeconds, ...), the same list for both apps (see main.bicep).')
param sessionPolicyEnv array

@description('The Upstream settings (Upstream__Url, ...), the same list for both apps (see main.bicep); the signing key is a secretRef.')
param upstreamEnv array

@secure()
@description('The upstream signing key, kept as the app\'s secret upstream-signing-key; empty when upstream is off.')
param upstreamSigningKey string

// The port WsApp listens on (WsApp/Dockerfile: ASPNETCORE_HTTP_PORTS), the ingress target and every probe's port.
var port = 8080

// Before the first deploy the app runs azd's placeholder image, which serves neither /healthz nor /readyz: with
// probes on it no replica would become ready and provisioning would time out. So the probes come with the real
// image only (as in azd's scaffold). The placeholder listens on $PORT, set below to the same port, so the
// platform's default TCP probes on the target port pass for it.
var placeholder = !exists
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

// Startup: up to 60 s to start (10 x 6 s: the platform allows at most 10 failures) (the first Redis connection and its Entra ID token). Liveness: a 5 s timeout, so one
// GC pause or a busy core on 0.5 vCPU does not restart the replica and drop every socket on it. Readiness: /readyz
// turns 503 when the node drains or Redis is away, so new connects go elsewhere.
var probes = [
  {
    type: 'Startup'
    httpGet: { path: '/healthz', port: port }
    periodSeconds: 6
    timeoutSeconds: 3
    failureThreshold: 10
  }
  {
    type: 'Liveness'
    httpGet: { path: '/healthz', port: port }
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  }
  {
    type: 'Readiness'
    httpGet: { path: '/readyz', port: port }
    periodSeconds: 5
    timeoutSeconds: 3
    failureThreshold: 2
  }
]

var authEnv = empty(jwtAuthority)
  ? []
  : [
      { name: 'Auth__Jwt__Authority', value: jwtAuthority }
      { name: 'Auth__Jwt__Audience', value: jwtAudience }
      { name: 'Auth__BindClientIdToSubject', value: string(bindClientIdToSubject) }
    ]
var originEnv = [for (origin, i) in allowedOrigins: { name: 'Ws__AllowedOrigins__${i}', value: origin }]

// The image running now, kept across `azd provision`.
module current 'fetch-image.bicep' = {
  name: '${name}-image'
  params: {
    exists: exists
    name: name
  }
}

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
        targetPort: port
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        { server: registryServer, identity: identityId }
      ]
      secrets: empty(upstreamSigningKey) ? [] : [{ name: 'upstream-signing-key', value: upstreamSigningKey }]
    }
    template: {
      // Drain (1001 closes spread over drainSeconds) plus the close handshakes it starts.
      terminationGracePeriodSeconds: drainSeconds + 15
      containers: [
        {
          name: 'wsapp'
          image: placeholder ? placeholderImage : current.outputs.containers[?0].?image
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(
            [
              { name: 'Redis__Host', value: redisHost }
              { name: 'Redis__UseEntraId', value: 'true' }
              { name: 'AZURE_CLIENT_ID', value: identityClientId }
              { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
              { name: 'AzureMonitor__UseEntraId', value: 'true' }
              { name: 'ASPNETCORE_FORWARDEDHEADERS_ENABLED', value: 'true' }
              { name: 'Ws__DrainSeconds', value: string(drainSeconds) }
              // Pings well inside the ingress's 240 s idle timeout.
              { name: 'Ws__HeartbeatSeconds', value: '30' }
              { name: 'Ws__ConnectsPerSecondPerAddress', value: string(connectsPerSecondPerAddress) }
              // For the placeholder image only (WsApp ignores it): it listens on $PORT.
              { name: 'PORT', value: string(port) }
            ],
            sessionPolicyEnv,
            authEnv,
            originEnv,
            upstreamEnv
          )
          probes: placeholder ? [] : probes
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
