"""Calibration of the judgement: how often each check fires on clean batches (false alarms)
and on drifted ones (detection), for the calibrated checks and for the rules they replaced
("before", kept below verbatim in spirit: PSI/JS bands, any-feature PSI >= 0.25, robust z
3.5), in the same run on the same batches.

Drift: references built the way `training.train` builds them (a 1,000-row labelled batch from
`training.generate`, the project's model trained on its split and predicting); "before" gets
the old reference (training split only, label class mix). Batches of 100, 300, 600 and 2,000
rows: clean ones resampled from the reference's rows and drawn fresh (with replacement) from
the digits, the generator's drifted variant, and a milder drift (classes 0-2 twice as likely,
pixels x0.9). Size/rows: 20 batches of history, log-normal and gamma-skewed sizes and a feed
that mixes two batch sizes; detection of a batch 3x and 1/3 the usual size.

Regression (the diabetes feed, `training.diabetes`): 50 references built as its `train` builds
them (a ridge model fitted on a 300-row labelled batch; feature histograms over the fixed
bins, the model's own predictions as a histogram, edges at the deciles of 60 rows' and
counts of the other 240), judged with the feed's
profile (RMSE, lower is better): prediction drift on the histogram of predicted values and
feature drift, on clean batches (resampled from the reference's rows, and drawn fresh from
the population the reference was drawn from, the dataset's 354-patient labelled pool), the
generator's drifted variant and a milder shift (a third of it). "Other patients" draws from
all 442 patients, the 88 reserved ones included: a finite population that really differs
from the pool, which large batches can tell (reported, no goal). Metric
regression: a challenger trained on a fresh clean batch of 240 rows (should mostly hold up;
the rate is the tolerance's, not a calibrated one) and a weak one (alpha 1e6, should be
caught), each against a champion fitted on 300 rows, on 60 patients neither saw.

`python -m bench.bench_calibration [--short]` (full: about 3-4 minutes on 2 cores).
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from bench.common import Row

SIZES = (100, 300, 600, 2000)
FULL = {"refs": 5, "clean": 1000, "drift": 200, "sizes": 4000}
SHORT = {"refs": 1, "clean": 30, "drift": 10, "sizes": 300}
# More references than the digits' (a ridge fit costs milliseconds): the guarantee is over
# references and batches alike, and a few 300-row references leave each one's luck in.
REG_FULL = {"refs": 50, "clean": 1000, "drift": 200, "metric": 500}
REG_SHORT = {"refs": 2, "clean": 30, "drift": 10, "metric": 20}
REG_TOLERANCE = 6.0  # RMSE units, as the example feeds file declares (2.0 fired on 23-25% of good retrains)
GOAL_FA, GOAL_DRIFTED, GOAL_MILD = 0.01, 0.99, 0.90


# --- today's rules, before this change (for the baseline column) -------------------------

def _old_prediction_fires(cur_dist: dict, ref_dist: dict) -> bool:
    from shared.checks.stats import aligned, js_distance, psi

    cur, exp = aligned(cur_dist, ref_dist)
    return psi(cur, exp) >= 0.1 or js_distance(cur, exp) >= 0.1  # warning bands fire


def _old_feature_flags(counts: np.ndarray, ref_counts: np.ndarray) -> tuple[bool, bool]:
    """(feature_drift fires, dataset_drift fires): PSI >= 0.25 on any / on half the pixels."""
    from shared.checks.stats import psi

    scores = [psi(c, r) for c, r in zip(counts, ref_counts, strict=True) if r.sum() > 0]
    drifted = sum(v >= 0.25 for v in scores)
    return drifted > 0, drifted / len(scores) >= 0.5


def _old_robust_z(x: float, history) -> float:
    h = np.asarray(history, dtype=float)
    med = float(np.median(h))
    dev = np.abs(h - med)
    mad = float(np.median(dev))
    if mad > 0:
        return 0.6745 * (x - med) / mad
    mean_ad = float(np.mean(dev))
    if mean_ad > 0:
        return (x - med) / (1.253314 * mean_ad)
    return 0.0 if x == med else math.inf


# --- batches ---------------------------------------------------------------------------

def _histograms(X: np.ndarray) -> np.ndarray:
    offs = np.arange(X.shape[1]) * 17
    flat = (X.astype(np.int64) + offs).ravel()
    return np.bincount(flat, minlength=17 * X.shape[1]).reshape(X.shape[1], 17)


def _mild(X, y, rows, rng):
    w = np.where(y <= 2, 2.0, 1.0)
    idx = rng.choice(len(y), size=rows, replace=True, p=w / w.sum())
    return np.clip(np.rint(X[idx] * 0.9), 0, 16).astype(np.int64)


class Reference:
    """One champion: its curated rows, model, new and old references."""

    def __init__(self, seed: int):
        from training import generate
        from training import model as mdl
        from training.options import TrainOptions
        from training.stats import reference
        from training.train import stratified_split

        rng = np.random.default_rng(1000 + seed)
        X, y = generate._sample("labelled", 1000, "clean", rng)
        o = TrainOptions()
        tr, _ = stratified_split(y, o.holdoutFraction, seed)
        mdl.seed_everything(o.seed + seed)
        net = mdl.build(o.hiddenUnits, o.learningRate)
        mdl.fit(net, X[tr], y[tr], o.epochs, o.batchSize)
        self.net, self.X, self.y = net, X, y
        self.predict = lambda Z: mdl.predict_proba(net, Z).argmax(axis=1)
        self.new = reference(X, y, self.predict(X))
        old = reference(X[tr], y[tr], None)
        self.old_counts = np.array([f["counts"] for f in old["featureStats"]["features"].values()])
        self.old_dist = old["classDistribution"]
        self.ref_pred = self.predict(X)


def _record(X: np.ndarray, pred: np.ndarray, i: int) -> dict:
    hist = _histograms(X)
    counts = np.bincount(pred, minlength=10)
    n = len(pred)
    feats = {f"p{j}": {"counts": hist[j].tolist()} for j in range(hist.shape[0])}
    return {"batchId": f"b{i}", "kind": "unlabelled", "status": "succeeded", "outputs": {
        "Preprocess": {"rowsOut": n, "featureStats": {"features": feats}},
        "Score": {"rows": n, "classCounts": {str(c): int(counts[c]) for c in range(10)},
                  "classDistribution": {str(c): counts[c] / n for c in range(10)}}}}


def _judge(ref: Reference, X: np.ndarray, pred: np.ndarray, i: int, s) -> dict[str, bool]:
    from shared.checks.drift import feature_drift, prediction_drift

    rec = _record(X, pred, i)
    got = {f["kind"]: f["firing"] for f in
           prediction_drift(rec, [], ref.new, s) + feature_drift(rec, [], ref.new, s)}
    old_f, old_d = _old_feature_flags(_histograms(X), ref.old_counts)
    old_p = _old_prediction_fires(rec["outputs"]["Score"]["classDistribution"], ref.old_dist)
    return {"new prediction": got["prediction_drift"], "new feature": got["feature_drift"],
            "new dataset": got["dataset_drift"],
            "new any": any(got.values()), "old prediction": old_p, "old feature": old_f,
            "old dataset": old_d, "old any": old_p or old_f or old_d}


def _drift_rates(refs, s, n_clean: int, n_drift: int) -> dict:
    from training import digits, generate

    Xall, yall = digits.load()
    rates = {}
    for size in SIZES:
        for c, (case, count) in enumerate((("clean, resampled", n_clean),
                                           ("clean, fresh", n_clean),
                                           ("drifted variant", n_drift),
                                           ("milder drift", n_drift))):
            tally: dict[str, int] = {}
            for k in range(count):
                ref = refs[k % len(refs)]
                rng = np.random.default_rng([size, c, k])
                if case == "clean, resampled":
                    idx = rng.choice(len(ref.y), size=size, replace=True)
                    X, pred = ref.X[idx], ref.ref_pred[idx]
                elif case == "clean, fresh":
                    idx = rng.choice(len(yall), size=size, replace=True)
                    X, pred = Xall[idx], ref.all_pred[idx]
                else:
                    X = (generate._sample("unlabelled", size, "drifted", rng)[0]
                         if case == "drifted variant" else _mild(Xall, yall, size, rng))
                    pred = ref.predict(X)
                for key, fired in _judge(ref, X, pred, k, s).items():
                    tally[key] = tally.get(key, 0) + int(fired)
            rates[(size, case)] = {key: v / count for key, v in tally.items()}
            rates[(size, case)]["n"] = count
    return rates


# --- file size and row count ------------------------------------------------------------

def _size_streams(rng, kind: str, n: int):
    """21 usual values: 20 of history and the next batch (rows; bytes ~ 210 per row)."""
    if kind == "log-normal, sigma 0.3":
        rows = np.exp(rng.normal(math.log(1000), 0.3, n))
    elif kind == "log-normal, sigma 0.7":
        rows = np.exp(rng.normal(math.log(1000), 0.7, n))
    elif kind == "gamma, shape 2":
        rows = rng.gamma(2.0, 500.0, n) + 50
    else:  # one kind, two producers: 300- and 2,000-row batches at random
        rows = np.where(rng.random(n) < 0.5, 300.0, 2000.0) * np.exp(rng.normal(0, 0.05, n))
    rows = np.maximum(np.rint(rows), 1)
    return rows, rows * 210 * np.exp(rng.normal(0, 0.02, n))


def _size_rates(s, count: int) -> dict:
    from shared.checks.data_checks import file_size_anomaly, row_count_anomaly

    def rec(i, rows, size):
        return {"batchId": f"b{i}", "kind": "labelled", "files": [{"size": float(size)}],
                "outputs": {"Preprocess": {"rowsIn": float(rows)}}}

    out = {}
    for kind in ("log-normal, sigma 0.3", "log-normal, sigma 0.7", "gamma, shape 2",
                 "mixed 300/2,000-row feed"):
        tally = {"new clean": 0, "old clean": 0, "new 3x": 0, "old 3x": 0, "new 1/3": 0,
                 "old 1/3": 0}
        rng = np.random.default_rng(7)
        for _ in range(count):
            rows, size = _size_streams(rng, kind, 21)
            hist = [rec(i, r, b) for i, (r, b) in enumerate(zip(rows[:20], size[:20],
                                                                  strict=True))]
            for label, factor in (("clean", 1.0), ("3x", 3.0), ("1/3", 1 / 3)):
                r, b = rows[20], size[20]  # the usual next batch, or an anomaly:
                if label != "clean":  # 3x or 1/3 of the history's median
                    r, b = float(np.median(rows[:20])) * factor, float(np.median(size[:20])) * factor
                new = [f["firing"] for f in file_size_anomaly(rec(99, r, b), hist, s)
                       + row_count_anomaly(rec(99, r, b), hist, s)]
                old = (abs(_old_robust_z(b, size[:20])) > 3.5
                       or abs(_old_robust_z(r, rows[:20])) > 3.5)
                tally[f"new {label}"] += int(any(new))
                tally[f"old {label}"] += int(old)
        out[kind] = {k: v / count for k, v in tally.items()}
    return out


# --- regression (the diabetes feed) ----------------------------------------------------

class RegressionReference:
    """One diabetes champion: the rows it saw, its model and its reference."""

    def __init__(self, seed: int):
        from training.diabetes import data
        from training.diabetes import model as mdl
        from training.diabetes.train import reference

        X, y = data.labelled_pool()
        idx = np.random.default_rng(2000 + seed).choice(len(y), size=300, replace=True)
        self.X, self.y = X[idx], y[idx]
        self.model = mdl.fit(self.X, self.y, 1.0)
        self.predict = lambda Z: mdl.predict(self.model, Z)
        self.reference = reference(self.X, self.predict(self.X), np.arange(60))  # as train: 20%
        self.edges = self.reference["predictionHistogram"]["edges"]


def _shifted(X: np.ndarray, scale: float) -> np.ndarray:
    from training.diabetes import data
    from training.diabetes.generate import DRIFT, DRIFT_FACTOR

    X = X.copy()
    for name, shift in DRIFT.items():
        X[:, data.FEATURES.index(name)] += shift * scale
    for name, factor in DRIFT_FACTOR.items():
        X[:, data.FEATURES.index(name)] *= 1 + (factor - 1) * scale
    return X


def _regression_judge(ref: RegressionReference, X: np.ndarray, i: int, s, profile) -> dict:
    from shared.checks.drift import feature_drift, prediction_drift
    from training.diabetes import data

    pred = ref.predict(X)
    rec = {"batchId": f"r{i}", "kind": "unlabelled", "status": "succeeded", "outputs": {
        "Preprocess": {"rowsOut": len(X), "featureStats": data.feature_stats(X)},
        "Score": {"rows": len(X), "predictionHistogram": {
            "edges": ref.edges, "counts": data.histogram(pred, ref.edges)}}}}
    got = {f["kind"]: f["firing"] for f in prediction_drift(rec, [], ref.reference, s, profile)
           + feature_drift(rec, [], ref.reference, s, profile)}
    return {"prediction": got["prediction_drift"], "feature": got["feature_drift"],
            "dataset": got["dataset_drift"], "any": any(got.values())}


def _regression_rates(s, cfg, profile) -> dict:
    from training.diabetes import data

    refs = [RegressionReference(seed) for seed in range(cfg["refs"])]
    Xall, Xpool = data.load()[0], data.labelled_pool()[0]
    rates = {}
    for size in SIZES:
        for c, (case, count) in enumerate((("clean, resampled", cfg["clean"]),
                                           ("clean, fresh", cfg["clean"]),
                                           ("other patients", cfg["drift"]),
                                           ("drifted variant", cfg["drift"]),
                                           ("milder drift", cfg["drift"]))):
            tally: dict[str, int] = {}
            for k in range(count):
                ref = refs[k % len(refs)]
                rng = np.random.default_rng([size, 10 + c, k])
                pool = {"clean, resampled": ref.X, "other patients": Xall}.get(case, Xpool)
                X = pool[rng.choice(len(pool), size=size, replace=True)]
                if case in ("drifted variant", "milder drift"):
                    X = _shifted(X, 1.0 if case == "drifted variant" else 1 / 3)
                for key, fired in _regression_judge(ref, X, k, s, profile).items():
                    tally[key] = tally.get(key, 0) + int(fired)
            rates[(size, case)] = {key: v / count for key, v in tally.items()} | {"n": count}
    return rates


def _metric_rates(s, count: int, profile) -> dict[str, float]:
    """How often metric_regression fires for a retrain on fresh clean data and for a weak one."""
    from shared.checks.model_checks import metric_regression
    from training.diabetes import data
    from training.diabetes import model as mdl

    X, y = data.labelled_pool()
    fired = {"clean retrain": 0, "weak model": 0}
    for k in range(count):
        rng = np.random.default_rng([77, k])
        order = rng.permutation(len(y))  # 60 held-out patients neither model ever sees
        ho, rest = order[:60], order[60:]
        first = rng.choice(rest, 300)
        champ = mdl.fit(X[first], y[first], 1.0)
        tr = rng.choice(rest, 240)
        champ_rmse = mdl.metrics(y[ho], mdl.predict(champ, X[ho]))["rmse"]
        for case, alpha in (("clean retrain", 1.0), ("weak model", 1e6)):
            new = mdl.metrics(y[ho], mdl.predict(mdl.fit(X[tr], y[tr], alpha), X[ho]))["rmse"]
            rec = {"batchId": f"m{k}", "status": "succeeded", "outputs": {"Train": {
                "modelVersion": "new", "promoted": True, "metrics": {"rmse": new},
                "championVersion": "champ", "championMetrics": {"rmse": champ_rmse}}}}
            fired[case] += int(metric_regression(rec, [], s, profile)[0]["firing"])
    return {k: v / count for k, v in fired.items()}


def _regression_rows(s, short: bool) -> list[Row]:
    from shared.checks.profile import Profile

    cfg = REG_SHORT if short else REG_FULL
    profile = Profile("regression", "rmse", "lower", REG_TOLERANCE)
    rows = []
    for (size, case), r in _regression_rates(s, cfg, profile).items():
        goal, ok = _goal(case, size, r, "", "prediction")
        value = (f"prediction {_pct(r['prediction'])}, feature {_pct(r['feature'])}, "
                 f"dataset {_pct(r['dataset'])}, any {_pct(r['any'])} ({r['n']} batches)")
        rows.append(Row("calibration", f"regression: {size} rows, {case}", value, None, goal, ok))
    m = _metric_rates(s, cfg["metric"], profile)
    rows.append(Row("calibration", "regression: metric regression (rmse, tolerance "
                    f"{REG_TOLERANCE:g})", f"clean retrain fires {_pct(m['clean retrain'])}, "
                    f"weak model caught {_pct(m['weak model'])} ({cfg['metric']} pairs)", None,
                    f"weak >= {GOAL_DRIFTED:.0%}", m["weak model"] >= GOAL_DRIFTED))
    return rows


# --- the table --------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _goal(case: str, size: int, r: dict, key: str, caught_by: str) -> tuple[str, bool | None]:
    """A drift row's goal: clean batches fire any finding on at most GOAL_FA; from 300 rows
    the drifted variant is caught (by `caught_by`) on GOAL_DRIFTED, the milder on GOAL_MILD."""
    if case.startswith("clean"):
        return f"any <= {GOAL_FA:.0%}", r[key + "any"] <= GOAL_FA
    if case == "drifted variant" and size >= 300:
        return (f"{caught_by} >= {GOAL_DRIFTED:.0%}",
                r[key + caught_by] >= GOAL_DRIFTED)
    if case == "milder drift" and size >= 300:
        return f"any >= {GOAL_MILD:.0%}", r[key + "any"] >= GOAL_MILD
    return "", None


def run(short: bool = False) -> list[Row]:
    from shared.settings import load_settings
    from training import digits

    cfg = SHORT if short else FULL
    s = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    t0 = time.perf_counter()
    refs = [Reference(seed) for seed in range(cfg["refs"])]
    Xall, _ = digits.load()
    for ref in refs:
        ref.all_pred = ref.predict(Xall)
    rates = _drift_rates(refs, s, cfg["clean"], cfg["drift"])
    rows: list[Row] = []
    for (size, case), r in rates.items():
        goal, ok = _goal(case, size, r, "new ", "dataset")
        value = (f"now: prediction {_pct(r['new prediction'])}, feature {_pct(r['new feature'])}"
                 f", dataset {_pct(r['new dataset'])}, any {_pct(r['new any'])}; before: "
                 f"{_pct(r['old prediction'])}, {_pct(r['old feature'])}, "
                 f"{_pct(r['old dataset'])}, {_pct(r['old any'])} ({r['n']} batches)")
        ratio = (r["new any"] / r["old any"]) if r["old any"] else None
        rows.append(Row("calibration", f"{size} rows, {case}", value, ratio, goal, ok))
    for kind, r in _size_rates(s, cfg["sizes"]).items():
        ok = r["new clean"] <= GOAL_FA
        value = (f"clean: now {_pct(r['new clean'])}, before {_pct(r['old clean'])}; "
                 f"3x caught now {_pct(r['new 3x'])} / before {_pct(r['old 3x'])}; "
                 f"1/3 caught now {_pct(r['new 1/3'])} / before {_pct(r['old 1/3'])}")
        ratio = r["new clean"] / r["old clean"] if r["old clean"] else None
        rows.append(Row("calibration", f"size/rows, 20 batches, {kind}", value, ratio,
                        f"clean <= {GOAL_FA:.0%}", ok))
    rows += _regression_rows(s, short)
    print(f"calibration: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if short:  # a few dozen batches check that it runs; they cannot judge a 1% rate
        for r in rows:
            r.ok = None
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short="--short" in sys.argv))
