"""Azure Monitor common alert schema payloads in the documented layout (values our own)."""
import copy

SUB = "11111111-2222-3333-4444-555555555555"
FACTORY = (f"/subscriptions/{SUB}/resourceGroups/rg-adf-ml-glue/providers/"
           "Microsoft.DataFactory/factories/adf-ml-glue")
WORKSPACE = (f"/subscriptions/{SUB}/resourcegroups/rg-adf-ml-glue/providers/"
             "microsoft.operationalinsights/workspaces/law-glue")

METRIC_FIRED = {
    "schemaId": "azureMonitorCommonAlertSchema",
    "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
                       "6f1c2a0e-3b7d-4c55-9d2e-0a1b2c3d4e5f",
            "alertRule": "adf-failed-runs",
            "severity": "Sev2",
            "signalType": "Metric",
            "monitorCondition": "Fired",
            "monitoringService": "Platform",
            "alertTargetIDs": [FACTORY.lower()],
            "configurationItems": ["adf-ml-glue"],
            "originAlertId": f"{SUB}_rg-adf-ml-glue_microsoft.insights_metricAlerts_"
                             "adf-failed-runs_1234567",
            "firedDateTime": "2026-11-21T11:58:03.1234567Z",
            "description": "Failed pipeline runs in the factory",
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        },
        "alertContext": {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": {
                "windowSize": "PT5M",
                "allOf": [{
                    "metricName": "PipelineFailedRuns",
                    "metricNamespace": "Microsoft.DataFactory/factories",
                    "operator": "GreaterThan",
                    "threshold": "0",
                    "timeAggregation": "Total",
                    "dimensions": [{"name": "ResourceId", "value": FACTORY}],
                    "metricValue": 2.0,
                }],
                "windowStartTime": "2026-11-21T11:52:00.000Z",
                "windowEndTime": "2026-11-21T11:57:00.000Z",
            },
        },
        "customProperties": None,
    },
}

LOG_FIRED = {
    "schemaId": "azureMonitorCommonAlertSchema",
    "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
                       "0b9e8d7c-6a5b-4c3d-2e1f-001122334455",
            "alertRule": "drift-rule",
            "severity": "Sev3",
            "signalType": "Log",
            "monitorCondition": "Fired",
            "monitoringService": "Log Alerts V2",
            "alertTargetIDs": [WORKSPACE],
            "configurationItems": [WORKSPACE],
            "originAlertId": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "firedDateTime": "2026-11-21T11:59:10.5Z",
            "description": "Prediction drift reported in the glue's logs",
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        },
        "alertContext": {
            "properties": None,
            "conditionType": "LogQueryCriteria",
            "condition": {
                "windowSize": "PT15M",
                "allOf": [{
                    "searchQuery": "AppTraces | where Message has 'prediction_drift'",
                    "metricMeasureColumn": None,
                    "targetResourceTypes": "['Microsoft.OperationalInsights/workspaces']",
                    "operator": "GreaterThan",
                    "threshold": "0",
                    "timeAggregation": "Count",
                    "dimensions": [],
                    "metricValue": 3,
                    "failingPeriods": {"numberOfEvaluationPeriods": 1,
                                       "minFailingPeriodsToAlert": 1},
                    "linkToSearchResultsUI": "https://portal.azure.com#@tenant/blade/"
                                             "Microsoft_Azure_Monitoring_Logs/LogsBlade",
                    "linkToSearchResultsAPI": "https://api.loganalytics.io/v1/workspaces/"
                                              "ws/query?query=AppTraces",
                }],
                "windowStartTime": "2026-11-21T11:44:10Z",
                "windowEndTime": "2026-11-21T11:59:10Z",
            },
        },
        "customProperties": None,
    },
}


def resolved(payload: dict, at: str = "2026-11-21T12:20:00.0Z") -> dict:
    p = copy.deepcopy(payload)
    p["data"]["essentials"].update(monitorCondition="Resolved", resolvedDateTime=at)
    return p


def without(payload: dict, *path: str) -> dict:
    p = copy.deepcopy(payload)
    node = p
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return p
