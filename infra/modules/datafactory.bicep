// Data Factory with its system-assigned identity, the linked services and pipelines of
// adf/ loaded from the same JSON files the app's release command and the local emulator
// deploy (one source of truth), with only the environment's names swapped in
// (`adfOverrides`, also an output: `python -m release --overrides` applies the same
// object), and diagnostic settings in resource-specific mode, so ADFPipelineRun and
// ADFActivityRun exist in Log Analytics for the app's query.
param location string
param factoryName string
param workspaceId string
param tags object = {}

param batchAccountName string
param batchUri string
param batchPoolName string
param dataBlobEndpoint string
param vaultUri string

var lsBatch = loadJsonContent('../../adf/linkedService/ls_batch.json')
var lsBlobMl = loadJsonContent('../../adf/linkedService/ls_blob_ml.json')
var lsKeyVault = loadJsonContent('../../adf/linkedService/ls_keyvault.json')
var trainAndScore = loadJsonContent('../../adf/pipeline/train_and_score.json')
var scoreOnly = loadJsonContent('../../adf/pipeline/score_only.json')
var scoreBatchEndpoint = loadJsonContent('../../adf/pipeline/score_batch_endpoint.json')
// The example regression feed (training/diabetes): its own pipelines beside the digits'.
var diabetesTrainAndScore = loadJsonContent('../../adf/pipeline/diabetes_train_and_score.json')
var diabetesScoreOnly = loadJsonContent('../../adf/pipeline/diabetes_score_only.json')

var storageAccountUrl = take(dataBlobEndpoint, length(dataBlobEndpoint) - 1)
var pipelineOverride = {
  parameters: {
    storageAccountUrl: {
      type: 'string'
      defaultValue: storageAccountUrl
    }
  }
}

// Deep-merged into each definition's `properties` (ARM's union merges nested objects).
var adfOverrides = {
  linkedService: {
    ls_batch: {
      typeProperties: {
        accountName: batchAccountName
        batchUri: batchUri
        poolName: batchPoolName
      }
    }
    ls_blob_ml: {
      typeProperties: {
        serviceEndpoint: dataBlobEndpoint
      }
    }
    ls_keyvault: {
      typeProperties: {
        baseUrl: vaultUri
      }
    }
  }
  pipeline: {
    train_and_score: pipelineOverride
    score_only: pipelineOverride
    score_batch_endpoint: pipelineOverride
    diabetes_train_and_score: pipelineOverride
    diabetes_score_only: pipelineOverride
  }
}

resource factory 'Microsoft.DataFactory/factories@2018-06-01' = {
  name: factoryName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publicNetworkAccess: 'Enabled'
  }
}

resource keyVaultService 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: lsKeyVault.name
  properties: union(lsKeyVault.properties, adfOverrides.linkedService.ls_keyvault)
}

resource blobService 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: lsBlobMl.name
  properties: union(lsBlobMl.properties, adfOverrides.linkedService.ls_blob_ml)
}

resource batchService 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: lsBatch.name
  properties: union(lsBatch.properties, adfOverrides.linkedService.ls_batch)
  dependsOn: [
    keyVaultService
    blobService
  ]
}

resource trainAndScorePipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: trainAndScore.name
  properties: union(trainAndScore.properties, adfOverrides.pipeline.train_and_score)
  dependsOn: [
    batchService
  ]
}

resource scoreOnlyPipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: scoreOnly.name
  properties: union(scoreOnly.properties, adfOverrides.pipeline.score_only)
  dependsOn: [
    batchService
  ]
}

// Scores on an Azure Machine Learning batch endpoint (SCORE_TARGET=aml-endpoint); its Web
// activities call the endpoint as this factory's identity (README: Azure ML roles).
resource scoreBatchEndpointPipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: scoreBatchEndpoint.name
  properties: union(scoreBatchEndpoint.properties, adfOverrides.pipeline.score_batch_endpoint)
  dependsOn: [
    batchService
  ]
}

resource diabetesTrainAndScorePipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: diabetesTrainAndScore.name
  properties: union(diabetesTrainAndScore.properties, adfOverrides.pipeline.diabetes_train_and_score)
  dependsOn: [
    batchService
  ]
}

resource diabetesScoreOnlyPipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: diabetesScoreOnly.name
  properties: union(diabetesScoreOnly.properties, adfOverrides.pipeline.diabetes_score_only)
  dependsOn: [
    batchService
  ]
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: factory
  name: 'adf-to-log-analytics'
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'PipelineRuns'
        enabled: true
      }
      {
        category: 'ActivityRuns'
        enabled: true
      }
      {
        category: 'TriggerRuns'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output factoryId string = factory.id
output factoryName string = factory.name
output principalId string = factory.identity.principalId
output trainPipeline string = trainAndScorePipeline.name
output scorePipeline string = scoreOnlyPipeline.name
output adfOverrides object = adfOverrides
