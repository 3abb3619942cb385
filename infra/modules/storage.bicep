// Two storage accounts, both without shared keys (every client uses Microsoft Entra ID):
// - data: the landing zone, the app's state, the ML data (code packages, models,
//   predictions), Data Factory's task logs and Event Grid's dead letters;
// - host: the Functions host's own storage (AzureWebJobsStorage, Durable task hub) and,
//   on Flex Consumption, the deployment package container.
@description('Azure region.')
param location string

@description('Data account name (3-24 lower-case letters and digits).')
param dataAccountName string

@description('Functions host account name (3-24 lower-case letters and digits).')
param hostAccountName string

@description('Container names (from the app settings LANDING_CONTAINER, STATE_CONTAINER, ML_CONTAINER).')
param landingContainer string
param stateContainer string
param mlContainer string

@description('Event Grid dead letters for undeliverable BlobCreated events.')
param deadLetterContainer string

@description('Where Data Factory Custom activities keep their task logs (ADF writes adfjobs/ in the resource linked service account).')
param adfJobsContainer string = 'adfjobs'

@description('Flex Consumption keeps the deployed zip here.')
param deploymentContainer string = 'app-package'

param tags object = {}

var accountProperties = {
  minimumTlsVersion: 'TLS1_2'
  supportsHttpsTrafficOnly: true
  allowBlobPublicAccess: false
  allowSharedKeyAccess: false
  defaultToOAuthAuthentication: true
  allowCrossTenantReplication: false
  publicNetworkAccess: 'Enabled'
  networkAcls: {
    bypass: 'AzureServices'
    defaultAction: 'Allow'
  }
  encryption: {
    requireInfrastructureEncryption: true
    keySource: 'Microsoft.Storage'
    services: {
      blob: {
        enabled: true
        keyType: 'Account'
      }
      queue: {
        enabled: true
        keyType: 'Account'
      }
      table: {
        enabled: true
        keyType: 'Account'
      }
    }
  }
}

resource data 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: dataAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: accountProperties
}

resource dataBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: data
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 14
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 14
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in [
  landingContainer
  stateContainer
  mlContainer
  deadLetterContainer
  adfJobsContainer
]: {
  parent: dataBlobs
  name: name
  properties: {
    publicAccess: 'None'
  }
}]

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: hostAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: accountProperties
}

resource hostBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: host
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource hostDeployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: hostBlobs
  name: deploymentContainer
  properties: {
    publicAccess: 'None'
  }
}

output dataAccountId string = data.id
output dataAccountName string = data.name
output dataBlobEndpoint string = data.properties.primaryEndpoints.blob
output hostAccountId string = host.id
output hostAccountName string = host.name
output hostBlobEndpoint string = host.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${host.properties.primaryEndpoints.blob}${deploymentContainer}'
output adfJobsContainer string = adfJobsContainer
