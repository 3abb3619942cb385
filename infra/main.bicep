// adf-ml-glue on Azure: everything the app needs, with identity-based connections only.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.dev.json
//
// The deploy workflow (.github/workflows/deploy.yml) runs it twice around the code
// deployment: first with subscribeEvents=false (Event Grid checks that the target
// functions exist), then, after the zip deploy and `python -m release`, with true.
targetScope = 'resourceGroup'

@description('Azure region of every resource.')
param location string = resourceGroup().location

@minLength(3)
@maxLength(11)
@description('Lower-case letters and digits; every resource name starts with it.')
param baseName string = 'adfmlglue'

@description('Environment suffix (dev, test, prod).')
param environmentName string = 'dev'

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
@description('Function App hosting plan.')
param hostingPlan string = 'FlexConsumption'

@description('Batch pool: VM size, most nodes, how often the autoscale formula is evaluated.')
param batchVmSize string = 'Standard_D2s_v3'
@minValue(1)
param batchMaxNodes int = 4
param batchAutoscaleEvaluationInterval string = 'PT5M'

@minValue(1)
@maxValue(730)
@description('Days until a secret written by this deployment expires (Key Vault then raises SecretNearExpiry 30 days ahead).')
param secretExpiryDays int = 90

@description('Now (the default); secret expiry is counted from it.')
param deployedAt string = utcNow()

@description('First deployment: write the first versions of the signing and intake secrets.')
param seedGeneratedSecrets bool = false

@secure()
param seedWebhookSecret string = newGuid()

@secure()
param seedIntakeSecret string = newGuid()

@description('Alert sinks the app posts to; each URL lives in Key Vault.')
param enableTeams bool = false
param enableSlack bool = false
param enableWebhooks bool = false

@secure()
@description('New Teams/Slack/webhook URLs to store (empty: keep the stored secret).')
param teamsWebhookUrl string = ''
@secure()
param slackWebhookUrl string = ''
@secure()
param webhookUrls string = ''

@description('Object id of the release principal (gets the deploy role); empty: none.')
param deployPrincipalId string = ''
param deployPrincipalType string = 'ServicePrincipal'

@description('Deploy the Event Grid subscriptions and the action group (needs the app code deployed).')
param subscribeEvents bool = true

@description('Tunable app settings (names from shared/settings.py), e.g. {"POLL_INTERVAL_SECONDS": "60"}; the code defaults apply otherwise.')
param appSettingsOverrides object = {}

var suffix = take(uniqueString(resourceGroup().id), 6)
var name = '${baseName}-${environmentName}'
var compact = '${baseName}${environmentName}${suffix}'
var tags = {
  app: 'adf-ml-glue'
  environment: environmentName
}

var containers = {
  landing: 'landing'
  state: 'glue-state'
  ml: 'ml-data'
  deadLetters: 'eventgrid-deadletter'
}

// Key Vault secret names: shared/secrets/names.py holds the same (a test compares them).
var secretNames = {
  webhookSecret: 'alert-webhook-secret'
  webhookSecretNext: 'alert-webhook-secret-next'
  intakeSecret: 'alert-intake-secret'
  intakeSecretNext: 'alert-intake-secret-next'
  teamsUrl: 'alert-teams-webhook-url'
  slackUrl: 'alert-slack-webhook-url'
  webhookUrls: 'alert-webhook-urls'
  batchKey: 'batch-account-key'
}
var rotatedSecrets = [
  secretNames.webhookSecret
  secretNames.webhookSecretNext
  secretNames.intakeSecret
  secretNames.intakeSecretNext
]
var sinkSecrets = concat(enableTeams ? [
  secretNames.teamsUrl
] : [], enableSlack ? [
  secretNames.slackUrl
] : [], enableWebhooks ? [
  secretNames.webhookUrls
] : [])

var batchPoolName = 'ml-cpu-pool'
var expiresAt = dateTimeToEpoch(dateTimeAdd(deployedAt, 'P${secretExpiryDays}D'))

// --- identities --------------------------------------------------------------------------

resource runtimeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}-app'
  location: location
  tags: tags
}

resource batchIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}-batch'
  location: location
  tags: tags
}

// --- resources ---------------------------------------------------------------------------

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    dataAccountName: take('st${compact}', 24)
    hostAccountName: take('sth${compact}', 24)
    landingContainer: containers.landing
    stateContainer: containers.state
    mlContainer: containers.ml
    deadLetterContainer: containers.deadLetters
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${name}'
    appInsightsName: 'appi-${name}'
  }
}

module batch 'modules/batch.bicep' = {
  name: 'batch'
  params: {
    location: location
    tags: tags
    accountName: take('ba${compact}', 24)
    poolName: batchPoolName
    poolIdentityId: batchIdentity.id
    vmSize: batchVmSize
    maxNodes: batchMaxNodes
    autoscaleEvaluationInterval: batchAutoscaleEvaluationInterval
    requirementsBase64: loadFileAsBase64('../training/requirements.txt')
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    vaultName: take('kv-${compact}', 24)
    names: secretNames
    expiresAt: expiresAt
    seedGeneratedSecrets: seedGeneratedSecrets
    seedWebhookSecret: seedWebhookSecret
    seedIntakeSecret: seedIntakeSecret
    teamsWebhookUrl: enableTeams ? teamsWebhookUrl : ''
    slackWebhookUrl: enableSlack ? slackWebhookUrl : ''
    webhookUrls: enableWebhooks ? webhookUrls : ''
    batchAccountName: batch.outputs.accountName
  }
}

module dataFactory 'modules/datafactory.bicep' = {
  name: 'datafactory'
  params: {
    location: location
    tags: tags
    factoryName: 'adf-${name}-${suffix}'
    workspaceId: monitoring.outputs.workspaceId
    batchAccountName: batch.outputs.accountName
    batchUri: batch.outputs.batchUri
    batchPoolName: batch.outputs.poolName
    dataBlobEndpoint: storage.outputs.dataBlobEndpoint
    vaultUri: keyVault.outputs.vaultUri
  }
}

// --- the app's settings ------------------------------------------------------------------

var kv = keyVault.outputs.vaultUri
var appName = 'func-${name}-${suffix}'

// What the app reads (shared/settings.py): set here when Azure needs a value other than the
// code's default; secrets only as Key Vault references (versionless: they follow new
// versions within 24 hours). tests/unit/test_infra.py checks this against the settings model.
var appSettings = {
  STORAGE_ACCOUNT_URL: storage.outputs.dataBlobEndpoint
  AZURE_CLIENT_ID: runtimeIdentity.properties.clientId
  LANDING_CONTAINER: containers.landing
  STATE_CONTAINER: containers.state
  ML_CONTAINER: containers.ml
  TASK_HUB_NAME: '${baseName}${environmentName}'
  SWEEP_SCHEDULE: '0 0 * * * *'
  MONITOR_KEEPALIVE_SCHEDULE: '0 */10 * * * *'
  WATCH_TICK_SCHEDULE: '*/5 * * * * *'
  RETENTION_SCHEDULE: '0 30 3 * * *'
  ADF_SUBSCRIPTION_ID: subscription().subscriptionId
  ADF_RESOURCE_GROUP: resourceGroup().name
  ADF_FACTORY_NAME: dataFactory.outputs.factoryName
  ADF_TRAIN_PIPELINE: dataFactory.outputs.trainPipeline
  ADF_SCORE_PIPELINE: dataFactory.outputs.scorePipeline
  CODE_VERSION: 'latest'
  PUBLIC_BASE_URL: 'https://${appName}.azurewebsites.net'
  LOG_ANALYTICS_WORKSPACE_ID: monitoring.outputs.workspaceCustomerId
  ALERT_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.webhookSecret}/)'
  ALERT_WEBHOOK_SECRET_NEXT: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.webhookSecretNext}/)'
  ALERT_INTAKE_SECRET: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.intakeSecret}/)'
  ALERT_INTAKE_SECRET_NEXT: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.intakeSecretNext}/)'
  KEY_VAULT_URL: kv
  SECRET_EXPIRY_DAYS: string(secretExpiryDays)
  SECRET_ROTATION_OVERLAP_SECONDS: '172800'
  SECRET_REFRESH_SECONDS: '86400'
  SECRET_ROTATION_SCHEDULE: '0 15 * * * *'
}

// Sinks that are switched on; their URLs are secrets.
var teamsSettings = enableTeams ? {
  ALERT_TEAMS_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.teamsUrl}/)'
} : {}
var slackSettings = enableSlack ? {
  ALERT_SLACK_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.slackUrl}/)'
} : {}
var webhookSettings = enableWebhooks ? {
  ALERT_WEBHOOK_URLS: '@Microsoft.KeyVault(SecretUri=${kv}secrets/${secretNames.webhookUrls}/)'
} : {}

// What the Functions host reads: identity-based host storage and telemetry, no keys.
var hostSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.hostAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: runtimeIdentity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${runtimeIdentity.properties.clientId};Authorization=AAD'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    appName: appName
    planName: 'plan-${name}'
    hostingPlan: hostingPlan
    identityId: runtimeIdentity.id
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appSettings: union(appSettingsOverrides, appSettings, teamsSettings, slackSettings, webhookSettings)
    hostSettings: hostSettings
  }
  dependsOn: [
    roles
  ]
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    runtimePrincipalId: runtimeIdentity.properties.principalId
    batchPrincipalId: batchIdentity.properties.principalId
    factoryPrincipalId: dataFactory.outputs.principalId
    deployPrincipalId: deployPrincipalId
    deployPrincipalType: deployPrincipalType
    factoryName: dataFactory.outputs.factoryName
    dataAccountName: storage.outputs.dataAccountName
    hostAccountName: storage.outputs.hostAccountName
    vaultName: keyVault.outputs.vaultName
    workspaceName: 'log-${name}'
    appInsightsName: 'appi-${name}'
    landingContainer: containers.landing
    stateContainer: containers.state
    mlContainer: containers.ml
    adfJobsContainer: storage.outputs.adfJobsContainer
    referencedSecrets: concat(rotatedSecrets, sinkSecrets)
    rotatedSecrets: rotatedSecrets
    batchKeySecret: secretNames.batchKey
  }
  dependsOn: [
    monitoring
  ]
}

module events 'modules/events.bicep' = if (subscribeEvents) {
  name: 'events'
  params: {
    location: location
    tags: tags
    functionAppName: functionApp.outputs.appName
    dataAccountName: storage.outputs.dataAccountName
    deadLetterContainer: containers.deadLetters
    landingContainer: containers.landing
    vaultName: keyVault.outputs.vaultName
    factoryName: dataFactory.outputs.factoryName
    watchedSecrets: concat([
      secretNames.webhookSecret
      secretNames.intakeSecret
      secretNames.batchKey
    ], sinkSecrets)
  }
}

output functionAppName string = functionApp.outputs.appName
output functionAppHostName string = functionApp.outputs.defaultHostName
output storageAccountUrl string = storage.outputs.dataBlobEndpoint
output mlContainer string = containers.ml
output factoryName string = dataFactory.outputs.factoryName
output runtimeClientId string = runtimeIdentity.properties.clientId
output adfOverrides object = dataFactory.outputs.adfOverrides
output vaultName string = keyVault.outputs.vaultName
