// The Function App: Linux, Python 3.11, Functions v4, on Flex Consumption (default) or
// Elastic Premium. It runs as one user-assigned identity, which also resolves its Key Vault
// references (keyVaultReferenceIdentity) and reaches the host storage (identity-based
// AzureWebJobsStorage). Settings come from main.bicep (appSettings: what the app reads;
// hostSettings: what the Functions host reads) plus the few the hosting plan needs.
param location string
param appName string
param planName string
param tags object = {}

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Flex Consumption: most instances; Elastic Premium: most burst instances.')
param maximumInstanceCount int = 40

param identityId string
param deploymentContainerUrl string

@description('Settings the app reads (shared/settings.py) and the Functions host reads.')
param appSettings object
param hostSettings object

var isFlex = hostingPlan == 'FlexConsumption'

// Elastic Premium runs the zip from the app's own storage (no Azure Files share, so no
// account key): the runtime and the package mode are settings there. Flex Consumption sets
// both in functionAppConfig and refuses these settings.
var planSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  WEBSITE_RUN_FROM_PACKAGE: '1'
}

var allSettings = union(appSettings, hostSettings, planSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? {
    name: 'FC1'
    tier: 'FlexConsumption'
  } : {
    name: 'EP1'
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: isFlex ? null : maximumInstanceCount
    zoneRedundant: false
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    } : null
    siteConfig: {
      linuxFxVersion: isFlex ? null : 'Python|3.11'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      healthCheckPath: isFlex ? null : '/api/health'
      remoteDebuggingEnabled: false
      appSettings: [for item in items(allSettings): {
        name: item.key
        value: item.value
      }]
    }
  }
}

// No publishing passwords: deployments authenticate with Microsoft Entra ID (OIDC).
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output appId string = site.id
output appName string = site.name
output defaultHostName string = site.properties.defaultHostName
