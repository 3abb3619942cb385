// Azure Batch: the account and the pool that runs the Custom activities (preprocess,
// train, score). The pool runs as its own user-assigned identity (reads the landing zone
// and the manifests, writes the ML container), installs training/requirements.txt in its
// start task and scales on pending tasks, down to zero nodes when idle.
param location string
param accountName string
param poolName string
param tags object = {}

@description('Resource id of the pool identity (user-assigned).')
param poolIdentityId string

@description('VM size of the pool nodes.')
param vmSize string = 'Standard_D2s_v3'

@minValue(1)
@description('Most nodes the autoscale formula asks for.')
param maxNodes int = 4

@description('How often Batch evaluates the autoscale formula (ISO 8601, 5 minutes to 168 hours).')
param autoscaleEvaluationInterval string = 'PT5M'

@description('training/requirements.txt, base64 (the template loads it: one source of truth).')
param requirementsBase64 string

// Pending tasks over the last 5 minutes (the last sample when Batch has too few samples);
// no pending task halves the pool each evaluation, so an idle pool reaches zero nodes.
// Nodes leave only after their running task completes.
var formula = join([
  '$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5);'
  '$tasks = $samples < 70 ? max(0, $PendingTasks.GetSample(1)) : max($PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 5)));'
  '$target = $tasks > 0 ? $tasks : max(0, $TargetDedicatedNodes / 2);'
  '$TargetDedicatedNodes = max(0, min($target, ${maxNodes}));'
  '$TargetLowPriorityNodes = 0;'
  '$NodeDeallocationOption = taskcompletion;'
], '\n')

// The Custom activities run `python -m zipfile -e training.zip . && python -m training.X`:
// `python` must be the interpreter that has training/requirements.txt installed.
var startCommand = '/bin/bash -c "set -euo pipefail; export DEBIAN_FRONTEND=noninteractive; apt-get update -q; apt-get install -y -q python3-pip python-is-python3; echo ${requirementsBase64} | base64 -d > requirements.txt; python3 -m pip install --break-system-packages --no-input -r requirements.txt"'

resource account 'Microsoft.Batch/batchAccounts@2024-07-01' = {
  name: accountName
  location: location
  tags: tags
  properties: {
    poolAllocationMode: 'BatchService'
    publicNetworkAccess: 'Enabled'
    allowedAuthenticationModes: [
      'AAD'
      'SharedKey'
      'TaskAuthenticationToken'
    ]
  }
}

resource pool 'Microsoft.Batch/batchAccounts/pools@2024-07-01' = {
  parent: account
  name: poolName
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${poolIdentityId}': {}
    }
  }
  properties: {
    vmSize: vmSize
    taskSlotsPerNode: 1
    deploymentConfiguration: {
      virtualMachineConfiguration: {
        imageReference: {
          publisher: 'canonical'
          offer: 'ubuntu-24_04-lts'
          sku: 'server'
          version: 'latest'
        }
        nodeAgentSkuId: 'batch.node.ubuntu 24.04'
      }
    }
    scaleSettings: {
      autoScale: {
        formula: formula
        evaluationInterval: autoscaleEvaluationInterval
      }
    }
    startTask: {
      commandLine: startCommand
      waitForSuccess: true
      maxTaskRetryCount: 2
      userIdentity: {
        autoUser: {
          scope: 'pool'
          elevationLevel: 'admin'
        }
      }
    }
  }
}

output accountName string = account.name
output accountId string = account.id
output batchUri string = 'https://${account.properties.accountEndpoint}'
output poolName string = pool.name
output autoscaleFormula string = formula
