// Event delivery into the app, deployed after the app's code (Event Grid checks that the
// target function exists, and the action group needs the function key):
// - BlobCreated on the landing container -> on_blob_created (retries, dead letters);
// - Key Vault SecretNearExpiry on the app's secrets -> on_secret_near_expiry (rotation, or
//   an alert for secrets a person replaces; their SecretNewVersionCreated resolves it);
// - an action group in the common alert schema -> POST /api/alerts, and a metric alert on
//   failed pipeline runs that uses it.
param location string
param tags object = {}

param functionAppName string
param dataAccountName string
param deadLetterContainer string
param landingContainer string
param vaultName string
param factoryName string

@description('Key Vault secrets whose near expiry the app handles (rotates or alerts on).')
param watchedSecrets array

@description('Event Grid delivery attempts before dead-lettering, and how long an event lives.')
param maxDeliveryAttempts int = 30
param eventTimeToLiveInMinutes int = 1440

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource data 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataAccountName

  resource blobs 'blobServices' existing = {
    name: 'default'

    resource deadLetters 'containers' existing = {
      name: deadLetterContainer
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: factoryName
}

resource storageTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${dataAccountName}-events'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: data.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// Dead letters are written with the topic's own identity, to that one container only.
resource topicWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: data::blobs::deadLetters
  name: guid(data::blobs::deadLetters.id, storageTopic.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: storageTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: storageTopic
  name: 'landing-blob-created'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/on_blob_created'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${landingContainer}/'
      enableAdvancedFilteringOnArrays: true
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: data.id
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
  dependsOn: [
    topicWritesDeadLetters
  ]
}

resource vaultTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${vaultName}-events'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource nearExpiry 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: vaultTopic
  name: 'secret-near-expiry'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/on_secret_near_expiry'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretNewVersionCreated'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'subject'
          values: watchedSecrets
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: data.id
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
  dependsOn: [
    vaultWritesDeadLetters
  ]
}

resource vaultWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: data::blobs::deadLetters
  name: guid(data::blobs::deadLetters.id, vaultTopic.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: vaultTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Monitor posts the common alert schema to the app's intake. Action groups cannot
// send headers, so the function key in the URL guards this caller (X-Alert-Secret is for
// callers that can send one).
resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${functionAppName}-intake'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'glueintake'
    enabled: true
    webhookReceivers: [
      {
        name: 'adf-ml-glue-intake'
        serviceUri: 'https://${app.properties.defaultHostName}/api/alerts?code=${listKeys('${app.id}/host/default', '2024-04-01').functionKeys.default}'
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedRuns 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${factoryName}-failed-runs'
  location: 'global'
  tags: tags
  properties: {
    description: 'A pipeline run of the factory failed.'
    severity: 1
    enabled: true
    scopes: [
      factory.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'failed-pipeline-runs'
          metricName: 'PipelineFailedRuns'
          metricNamespace: 'Microsoft.DataFactory/factories'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupId string = actionGroup.id
