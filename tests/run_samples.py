"""Finished run records shaped like the orchestrator's, judged by the real checks, for the
reporting and dashboard tests and the dashboard benchmark."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

BASE = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def settings():
    from shared.settings import load_settings

    return load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                          "CHECK_MIN_HISTORY": "3"})


def _stage(name: str, start: datetime, seconds: float, status: str = "succeeded") -> dict:
    return {"name": name, "status": status, "start": start.isoformat(),
            "end": (start + timedelta(seconds=seconds)).isoformat(),
            "durationSeconds": seconds}


def sample_id(i: int, mode: str = "train-and-score") -> str:
    kind = "labelled" if mode == "train-and-score" else "unlabelled"
    return f"{kind}-{i:020x}"


def record(i: int, mode: str = "train-and-score", status: str = "succeeded",
           drifted: bool = False, rows: int = 1000, seed: int | None = None,
           batch_id: str | None = None) -> dict:
    """Run number `i` (its times follow i): unjudged (no checks yet)."""
    rnd = random.Random(i if seed is None else seed)
    kind = "labelled" if mode == "train-and-score" else "unlabelled"
    batch_id = batch_id or sample_id(i, mode)
    start = BASE + timedelta(minutes=10 * i)
    names = ["Preprocess", "Train", "Score"] if mode == "train-and-score" else [
        "Preprocess", "Score"]
    stages, t = [], start + timedelta(seconds=2)
    for name in names:
        seconds = round(rnd.uniform(5, 9) * (3 if name == "Train" else 1), 1)
        stages.append(_stage(name, t, seconds))
        t += timedelta(seconds=seconds + 1)
    mix = [0.1] * 10
    if drifted:
        mix = [0.3, 0.3, 0.2] + [0.2 / 7] * 7
    counts = {str(c): int(round(rows * mix[c])) for c in range(10)}
    outputs = {
        "Preprocess": {"rowsIn": rows + rnd.randint(-20, 20), "rowsOut": rows,
                       "rowsRejected": rnd.randint(0, 3), "bytesIn": rows * 200},
        "Score": {"rows": rows, "classCounts": counts, "modelVersion": "m-1"},
    }
    if mode == "train-and-score":
        acc = round(0.9 + rnd.uniform(-0.03, 0.03), 4)
        outputs["Train"] = {"accuracy": acc, "modelVersion": f"m-{i}", "decision": "promoted",
                            "promoted": True, "championVersion": f"m-{i - 1}",
                            "championAccuracy": 0.9, "tolerance": 0.02}
    error = None
    if status == "failed":
        stages[-1]["status"] = "failed"
        outputs.pop("Score", None)
        error = {"activity": stages[-1]["name"], "message": "exit code 1"}
    finished = t + timedelta(seconds=1)
    return {
        "batchId": batch_id, "instanceId": batch_id, "kind": kind, "mode": mode,
        "pipeline": "train_and_score" if mode == "train-and-score" else "score_only",
        "status": status, "createdAt": start.isoformat(), "startedAt": start.isoformat(),
        "finishedAt": finished.isoformat(),
        "durationSeconds": round((finished - start).total_seconds(), 1),
        "files": [{"name": f"{kind}/2026/11/01/{batch_id}-{n}.csv", "size": rows * 100}
                  for n in range(2)],
        "adfRunIds": [f"adf-{batch_id}"], "stages": stages, "activities": stages,
        "outputs": outputs, "error": error, "reruns": 0, "codeVersion": "c-1",
    }


def judged(records: list[dict], s=None) -> list[dict]:
    """Each record with the real checks' findings against the ones before it (oldest first
    in, oldest first out), and an alert note for each firing finding."""
    from shared.checks import evaluate_run

    s = s or settings()
    out: list[dict] = []
    for rec in records:
        history = [r for r in reversed(out) if r["kind"] == rec["kind"]][: s.check_history_window]
        findings = evaluate_run(rec, history, None, s)
        alerts = [{"id": f"a-{rec['batchId']}-{f['kind']}", "kind": f["kind"],
                   "subject": f["subject"], "severity": f["severity"], "type": "Fired",
                   "delivery": {"webhook-1": "ok"}}
                  for f in findings if f["firing"]]
        out.append({**rec, "checks": findings, "alerts": alerts})
    return out


def story() -> list[dict]:
    """Like the demo, with a little history: training runs, then scoring, one drifted."""
    recs = [record(i) for i in range(4)]
    recs += [record(4 + i, mode="score") for i in range(4)]
    recs.append(record(8, mode="score", drifted=True))
    recs.append(record(9, mode="score"))
    return judged(recs)
