// Key Vault in RBAC mode. Every secret the app reads through a Key Vault reference, each
// with an expiry, so Key Vault raises SecretNearExpiry (30 days ahead) and the app's
// on_secret_near_expiry function rotates it (signing and intake secrets) or raises an
// alert naming it (URLs, the Batch key: a person must replace those).
//
// Secrets are written only when there is something to write: the generated ones when
// `seedGeneratedSecrets` (first deployment; later versions come from the rotation
// function, and a redeployment must not reset them), the URLs when a value is passed.
param location string
param vaultName string
param tags object = {}

@description('Write first versions of the signing and intake secrets (first deployment only).')
param seedGeneratedSecrets bool = false

@secure()
@description('First value of the webhook signing secret (seeding only).')
param seedWebhookSecret string = ''

@secure()
@description('First value of the intake secret (seeding only).')
param seedIntakeSecret string = ''

@secure()
@description('Teams webhook URL; empty leaves the stored secret (if any) as it is.')
param teamsWebhookUrl string = ''

@secure()
@description('Slack webhook URL; empty leaves the stored secret (if any) as it is.')
param slackWebhookUrl string = ''

@secure()
@description('Generic webhook URLs (comma list); empty leaves the stored secret as it is.')
param webhookUrls string = ''

@description('Expiry of secrets written now, in seconds since the epoch.')
param expiresAt int

@description('Batch account whose key Data Factory reads (ls_batch: batch-account-key).')
param batchAccountName string

@description('The secret names (the app and the rotation use the same ones).')
param names object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

var generated = [
  {
    name: names.webhookSecret
    value: seedWebhookSecret
  }
  {
    name: names.webhookSecretNext
    value: seedWebhookSecret
  }
  {
    name: names.intakeSecret
    value: seedIntakeSecret
  }
  {
    name: names.intakeSecretNext
    value: seedIntakeSecret
  }
]

resource generatedSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for s in generated: if (seedGeneratedSecrets) {
  parent: vault
  name: s.name
  properties: {
    value: s.value
    contentType: 'text/plain; rotated-by=on_secret_near_expiry'
    attributes: {
      enabled: true
      exp: expiresAt
    }
  }
}]

// Sink URLs: a person replaces them (the app alerts when they near expiry).
var urls = [
  {
    name: names.teamsUrl
    value: teamsWebhookUrl
    contentType: 'text/uri; rotated-by=person'
  }
  {
    name: names.slackUrl
    value: slackWebhookUrl
    contentType: 'text/uri; rotated-by=person'
  }
  {
    name: names.webhookUrls
    value: webhookUrls
    contentType: 'text/uri-list; rotated-by=person'
  }
]

resource urlSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for s in urls: if (!empty(s.value)) {
  parent: vault
  name: s.name
  properties: {
    value: s.value
    contentType: s.contentType
    attributes: {
      enabled: true
      exp: expiresAt
    }
  }
}]

resource batch 'Microsoft.Batch/batchAccounts@2024-07-01' existing = {
  name: batchAccountName
}

// Data Factory's ls_batch reads the Batch key from here (adf/linkedService/ls_batch.json).
resource batchKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: names.batchKey
  properties: {
    value: batch.listKeys().primary
    contentType: 'text/plain; rotated-by=person'
    attributes: {
      enabled: true
      exp: expiresAt
    }
  }
}

output vaultId string = vault.id
output vaultName string = vault.name
output vaultUri string = vault.properties.vaultUri
