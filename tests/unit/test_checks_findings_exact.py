"""Every field of a finding, for one case of each path: what people are told (summary), what
the context records, and the subject, status and severity alerts are keyed and ranked on.
Numbers were checked by hand in test_checks (chi-square, Holm, log-t); here they pin the
wiring: which value lands in which field."""
from shared.checks.data_checks import file_size_anomaly, row_count_anomaly
from shared.checks.drift import feature_drift, prediction_drift
from tests.unit.test_checks import S, feature_ref, history, run

PRED_REF = {"predictedClassCounts": {"0": 250, "1": 750}}


def test_pred_no_ref_finding():
    expected = (
    [{'context': {'batchId': 'b-now',
                  'historyRuns': 2,
                  'referenceSource': 'trailing-window',
                  'rows': 500},
      'firing': False,
      'kind': 'prediction_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'predictions',
      'summary': 'no reference distribution and 2 scored runs in history, 5 needed'}]
    )
    assert prediction_drift(run(classes={"0": .4, "1": .6}), history(2, classes={"0": .5, "1": .5}), None, S) == expected


def test_pred_few_rows_finding():
    expected = (
    [{'context': {'batchId': 'b-now', 'referenceSource': 'predictedClassCounts', 'rows': 99},
      'firing': False,
      'kind': 'prediction_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'predictions',
      'summary': '99 predictions, 100 needed to judge drift'}]
    )
    assert prediction_drift(run(classes={"0": .4, "1": .6}, score_rows=99), [], PRED_REF, S) == expected


def test_pred_warn_finding():
    expected = (
    [{'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'chi2': 10.536398,
                  'current': {'0': 0.4, '1': 0.6},
                  'df': 1,
                  'jsAlert': 0.2,
                  'jsDistance': 0.136462,
                  'pValue': 0.00117,
                  'psi': 0.103972,
                  'psiAlert': 0.25,
                  'reference': {'0': 0.25, '1': 0.75},
                  'referenceRows': 1000.0,
                  'referenceSource': 'predictedClassCounts',
                  'rows': 100},
      'firing': True,
      'kind': 'prediction_drift',
      'severity': 'Sev3',
      'status': 'warning',
      'subject': 'predictions',
      'summary': 'predicted class mix: p 0.0012 (drift below 0.005), PSI 0.104, JS distance 0.136 over '
                 '100 predictions (warning)'}]
    )
    assert prediction_drift(run(batch="b7", classes={"0": .4, "1": .6}, score_rows=100), [], PRED_REF, S) == expected


def test_pred_ok_gof_finding():
    expected = (
    [{'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'chi2': 1.333333,
                  'current': {'0': 0.3, '1': 0.7},
                  'df': 1,
                  'jsAlert': 0.2,
                  'jsDistance': 0.047578,
                  'pValue': 0.248213,
                  'psi': 0.012566,
                  'psiAlert': 0.25,
                  'reference': {'0': 0.25, '1': 0.75},
                  'referenceRows': None,
                  'referenceSource': 'classDistribution',
                  'rows': 100},
      'firing': False,
      'kind': 'prediction_drift',
      'severity': 'Sev4',
      'status': 'ok',
      'subject': 'predictions',
      'summary': 'predicted class mix: p 0.25 (drift below 0.005), PSI 0.013, JS distance 0.048 over '
                 '100 predictions'}]
    )
    assert prediction_drift(run(batch="b7", classes={"0": .3, "1": .7}, score_rows=100), [], {"classDistribution": {"0": .25, "1": .75}}, S) == expected


def test_feat_few_rows_finding():
    expected = (
    [{'context': {'batchId': 'b7', 'referenceSource': 'reference', 'rows': 99},
      'firing': False,
      'kind': 'feature_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'dataset:labelled',
      'summary': '99 rows, 100 needed to judge drift'},
     {'context': {'batchId': 'b7', 'referenceSource': 'reference', 'rows': 99},
      'firing': False,
      'kind': 'dataset_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'dataset:labelled',
      'summary': '99 rows, 100 needed to judge drift'}]
    )
    assert feature_drift(run(batch="b7", features={"p0": [50, 49]}, rows_in=99), [], feature_ref(), S) == expected


def test_feat_none_finding():
    expected = (
    [{'context': {'batchId': 'b7', 'historyRuns': 1, 'referenceSource': 'trailing-window', 'rows': 99},
      'firing': False,
      'kind': 'feature_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'dataset:labelled',
      'summary': 'no reference feature statistics and 1 batches in history, 5 needed'},
     {'context': {'batchId': 'b7', 'historyRuns': 1, 'referenceSource': 'trailing-window', 'rows': 99},
      'firing': False,
      'kind': 'dataset_drift',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'dataset:labelled',
      'summary': 'no reference feature statistics and 1 batches in history, 5 needed'}]
    )
    assert feature_drift(run(batch="b7", features={"p0": [50, 49]}, rows_in=99), history(1, features={"p0": [5, 5]}), None, S) == expected


def test_feat_drift_finding():
    expected = (
    [{'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'drifted': ['p2', 'p0'],
                  'driftedShare': 0.666667,
                  'featuresEvaluated': 3,
                  'featuresSkipped': [],
                  'largestDriftedPsi': 0.274653,
                  'psiAlert': 0.25,
                  'referenceSource': 'reference',
                  'rows': 500,
                  'shareThreshold': 0.5,
                  'top': {'p0': {'pHolm': 1.6e-05, 'psi': 0.080551},
                          'p1': {'pHolm': 1.0, 'psi': 0.0},
                          'p2': {'pHolm': 0.0, 'psi': 0.274653}}},
      'firing': True,
      'kind': 'feature_drift',
      'severity': 'Sev3',
      'status': 'alert',
      'subject': 'dataset:labelled',
      'summary': '2 of 3 features drifted (Holm p <= 0.005; largest PSI 0.275): p2, p0'},
     {'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'drifted': ['p2', 'p0'],
                  'driftedShare': 0.666667,
                  'featuresEvaluated': 3,
                  'featuresSkipped': [],
                  'largestDriftedPsi': 0.274653,
                  'psiAlert': 0.25,
                  'referenceSource': 'reference',
                  'rows': 500,
                  'shareThreshold': 0.5,
                  'top': {'p0': {'pHolm': 1.6e-05, 'psi': 0.080551},
                          'p1': {'pHolm': 1.0, 'psi': 0.0},
                          'p2': {'pHolm': 0.0, 'psi': 0.274653}}},
      'firing': True,
      'kind': 'dataset_drift',
      'severity': 'Sev2',
      'status': 'alert',
      'subject': 'dataset:labelled',
      'summary': '67% of features drifted (dataset drift at 50%)'}]
    )
    assert feature_drift(run(batch="b7", features={"p0": [180, 320], "p1": [250, 250], "p2": [125, 375]}, rows_in=500), [], feature_ref(3), S) == expected


def test_size_insufficient_finding():
    expected = (
    [{'context': {'alpha': 0.005, 'batchId': 'b7', 'historyBatches': 2, 'value': 1000.0},
      'firing': False,
      'kind': 'file_size_anomaly',
      'severity': 'Sev4',
      'status': 'insufficient-history',
      'subject': 'dataset:labelled',
      'summary': '2 batches in history, 5 needed'}]
    )
    assert file_size_anomaly(run(batch="b7", size=1000), history(2, size=1000), S) == expected


def test_size_alert_finding():
    expected = (
    [{'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'centre': 997.494976,
                  'historyBatches': 5,
                  'pValue': 0.000223,
                  't': 12.677986,
                  'tLimit': 5.597568,
                  'usualRange': [613.235916, 1622.142169],
                  'value': 3000.0},
      'firing': True,
      'kind': 'file_size_anomaly',
      'severity': 'Sev3',
      'status': 'alert',
      'subject': 'dataset:labelled',
      'summary': 'batch size in bytes 3000 is far above the last 5 batches (usual 613 to 1622; log-t '
                 '12.68, p 0.00022 < 0.005)'}]
    )
    assert file_size_anomaly(run(batch="b7", size=3000), history(5, size=[1000, 1100, 900, 1050, 950]), S) == expected


def test_rows_ok_finding():
    expected = (
    [{'context': {'alpha': 0.005,
                  'batchId': 'b7',
                  'centre': 997.494976,
                  'historyBatches': 5,
                  'pValue': 0.978354,
                  't': 0.028867,
                  'tLimit': 5.597568,
                  'usualRange': [613.235916, 1622.142169],
                  'value': 1000.0},
      'firing': False,
      'kind': 'row_count_anomaly',
      'severity': 'Sev4',
      'status': 'ok',
      'subject': 'dataset:labelled',
      'summary': 'row count 1000 is usual (within 613 to 1622; p 0.98)'}]
    )
    assert row_count_anomaly(run(batch="b7", rows_in=1000), history(5, rows_in=[1000, 1100, 900, 1050, 950]), S) == expected
