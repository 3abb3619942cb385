// Least privilege, split by job. Every action below is one the tests saw the app (or the
// release command, or a Batch task) use against the local stack:
//   tests/e2e/test_least_privilege_e2e.py compares these lists with what was recorded.
//
// - runtime (the Function App's identity): a custom Data Factory role with the run actions
//   only; the landing container read-only, the state container read/write, the ML
//   container read-only; its own host storage (AzureWebJobsStorage, Durable task hub);
//   its Key Vault references, and write on the secrets it rotates; Log Analytics read;
//   App Insights ingestion.
// - deploy (the release job's identity): a custom Data Factory role that writes pipelines
//   and linked services, and write on the ML container's code/ prefix only.
// - batch (the pool's identity): the landing container and the manifests read-only, the ML
//   container read/write.
// - Data Factory: the ML container read-only (code packages), its task logs, the Batch key.
param runtimePrincipalId string
param batchPrincipalId string
param factoryPrincipalId string

@description('Object id of the release pipeline principal (OIDC); empty: no assignment.')
param deployPrincipalId string = ''

@description('User, ServicePrincipal or Group: what deployPrincipalId is.')
param deployPrincipalType string = 'ServicePrincipal'

param factoryName string
param dataAccountName string
param hostAccountName string
param vaultName string
param workspaceName string
param appInsightsName string

param landingContainer string
param stateContainer string
param mlContainer string
param adfJobsContainer string

@description('Key Vault secrets the app reads through references.')
param referencedSecrets array

@description('Key Vault secrets the app writes new versions of (rotation).')
param rotatedSecrets array

param batchKeySecret string

@description('Blob prefix in the state container that Batch tasks read (the batch manifests).')
param manifestsPrefix string = 'manifests/'

@description('Blob prefix in the ML container the release uploads code packages to.')
param codePrefix string = 'code/'

@description('Where the runtime writes its reporting tables in the ML container.')
param reportingPrefix string = 'reporting/'

// --- what each custom role allows ---------------------------------------------------------

var runtimeFactoryActions = [
  'Microsoft.DataFactory/factories/read'
  'Microsoft.DataFactory/factories/pipelines/createrun/action'
  'Microsoft.DataFactory/factories/pipelineruns/read'
  'Microsoft.DataFactory/factories/pipelineruns/cancel/action'
  'Microsoft.DataFactory/factories/querypipelineruns/action'
  'Microsoft.DataFactory/factories/pipelineruns/queryactivityruns/action'
]

var deployFactoryActions = [
  'Microsoft.DataFactory/factories/pipelines/read'
  'Microsoft.DataFactory/factories/pipelines/write'
  'Microsoft.DataFactory/factories/linkedservices/read'
  'Microsoft.DataFactory/factories/linkedservices/write'
]

// Built-in roles (ids are the same in every tenant).
var roles = {
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  blobContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  queueContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  secretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  metricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// The landing container and the data containers, each its own role scope.
var dataContainerRoles = [
  {
    who: 'runtime'
    principalId: runtimePrincipalId
    container: landingContainer
    role: roles.blobReader
    condition: ''
  }
  {
    who: 'runtime'
    principalId: runtimePrincipalId
    container: stateContainer
    role: roles.blobContributor
    condition: ''
  }
  {
    // Reads what training writes; writes only the reporting tables under reporting/.
    who: 'runtime'
    principalId: runtimePrincipalId
    container: mlContainer
    role: roles.blobContributor
    condition: '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith \'${reportingPrefix}\'))'
  }
  {
    who: 'batch'
    principalId: batchPrincipalId
    container: landingContainer
    role: roles.blobReader
    condition: ''
  }
  {
    who: 'batch'
    principalId: batchPrincipalId
    container: stateContainer
    role: roles.blobReader
    condition: '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith \'${manifestsPrefix}\'))'
  }
  {
    who: 'batch'
    principalId: batchPrincipalId
    container: mlContainer
    role: roles.blobContributor
    condition: ''
  }
  {
    who: 'factory'
    principalId: factoryPrincipalId
    container: mlContainer
    role: roles.blobReader
    condition: ''
  }
  {
    who: 'factory'
    principalId: factoryPrincipalId
    container: adfJobsContainer
    role: roles.blobContributor
    condition: ''
  }
]

var deployCodeCondition = '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith \'${codePrefix}\'))'

// The Functions host's own account: blobs (host locks, Flex deployment package), queues
// and tables (Durable Functions task hub: control and work-item queues, history and
// instance tables, lease blobs).
var hostRoles = [
  roles.blobOwner
  roles.queueContributor
  roles.tableContributor
]

// --- resources -------------------------------------------------------------------------------

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource data 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataAccountName

  resource blobs 'blobServices' existing = {
    name: 'default'
  }
}

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource runtimeRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'adf-ml-glue-runtime')
  properties: {
    roleName: 'adf-ml-glue runtime (${resourceGroup().name})'
    description: 'Start, follow, query and cancel pipeline runs of the factory; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: runtimeFactoryActions
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource deployRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'adf-ml-glue-deploy')
  properties: {
    roleName: 'adf-ml-glue deploy (${resourceGroup().name})'
    description: 'Read and write the factory\'s pipelines and linked services (the release command).'
    type: 'CustomRole'
    permissions: [
      {
        actions: deployFactoryActions
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource runtimeOnFactory 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: factory
  name: guid(factory.id, runtimePrincipalId, runtimeRole.id)
  properties: {
    roleDefinitionId: runtimeRole.id
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployOnFactory 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployPrincipalId)) {
  scope: factory
  name: guid(factory.id, deployPrincipalId, deployRole.id)
  properties: {
    roleDefinitionId: deployRole.id
    principalId: deployPrincipalId
    principalType: deployPrincipalType
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for a in dataContainerRoles: {
  parent: data::blobs
  name: a.container
}]

resource containerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (a, i) in dataContainerRoles: {
  scope: containers[i]
  name: guid(containers[i].id, a.principalId, a.role)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.role)
    principalId: a.principalId
    principalType: 'ServicePrincipal'
    description: '${a.who}: ${a.container}'
    condition: empty(a.condition) ? null : a.condition
    conditionVersion: empty(a.condition) ? null : '2.0'
  }
}]

resource mlContainerRef 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: data::blobs
  name: mlContainer
}

resource deployOnCode 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployPrincipalId)) {
  scope: mlContainerRef
  name: guid(mlContainerRef.id, deployPrincipalId, roles.blobContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobContributor)
    principalId: deployPrincipalId
    principalType: deployPrincipalType
    description: 'deploy: ${mlContainer}/${codePrefix} (code packages)'
    condition: deployCodeCondition
    conditionVersion: '2.0'
  }
}

resource runtimeOnHost 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in hostRoles: {
  scope: host
  name: guid(host.id, runtimePrincipalId, role)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource referenced 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for name in referencedSecrets: {
  parent: vault
  name: name
}]

resource runtimeReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in referencedSecrets: {
  scope: referenced[i]
  name: guid(vault.id, name, runtimePrincipalId, roles.secretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.secretsUser)
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource rotated 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for name in rotatedSecrets: {
  parent: vault
  name: name
}]

resource runtimeRotatesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in rotatedSecrets: {
  scope: rotated[i]
  name: guid(vault.id, name, runtimePrincipalId, roles.secretsOfficer)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.secretsOfficer)
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource batchKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: batchKeySecret
}

resource factoryReadsBatchKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: batchKey
  name: guid(vault.id, batchKeySecret, factoryPrincipalId, roles.secretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.secretsUser)
    principalId: factoryPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource runtimeReadsLogs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: workspace
  name: guid(workspace.id, runtimePrincipalId, roles.logAnalyticsReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource runtimeSendsTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, runtimePrincipalId, roles.metricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.metricsPublisher)
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
  }
}

output runtimeRoleId string = runtimeRole.id
output deployRoleId string = deployRole.id
