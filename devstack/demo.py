"""`make demo`: the whole product on the local stack, told as a story.

A labelled batch lands -> event -> run -> preprocess/train/score -> model promoted ->
predictions; an unlabelled batch -> score-only run; a drifted batch -> drift alerts at the
receiver; a clean batch -> alerts resolved. `--feed diabetes` tells the same story for the
example regression feed (`feeds.example.json`: its own prefix, pipelines, model, metric and
drift on a histogram of predicted values), beside the digits feed. Ends with a summary table and the dashboard's
URL (with the function key); exits non-zero naming the step that failed. Everything it starts
is stopped at the end, also on Ctrl-C; with `--keep` the stack stays up (and its data folder
stays) until Ctrl-C or SIGTERM, so a person can open the dashboard.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from devstack.api_client import AppClient
from devstack.azurite import ROOT
from devstack.stack import LocalStack
from devstack.up import dashboard_url

# Wide enough for the summary table when the output is a log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 140)
DEMO_SETTINGS = {
    "POLL_INTERVAL_SECONDS": "1",
    "POLL_MAX_INTERVAL_SECONDS": "3",
    "WATCH_INTERVAL_SECONDS": "2",  # runs are noticed as finished within seconds
    "WATCH_TICK_SCHEDULE": "* * * * * *",
    "EVENT_BATCH_WINDOW_SECONDS": "2",
    "LANDING_QUIET_SECONDS": "0",
    "SWEEP_SCHEDULE": "0 */5 * * * *",
    "ALERT_DELIVERY_BACKOFF_SECONDS": "0.5",
}


class StepFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Act:
    """What the story lands and expects for one feed."""

    feed: str
    train_rows: int
    score_rows: int
    metric: str  # the feed's primary metric, as its Train output reports it
    drift_alerts: frozenset[str]
    drift_text: str


ACTS = {
    "digits": Act("digits", 1200, 600, "accuracy",
                  frozenset({"prediction_drift", "feature_drift"}),
                  "shifted class mix, fainter pixels"),
    "diabetes": Act("diabetes", 400, 300, "rmse", frozenset({"prediction_drift"}),
                    "an older, heavier population: predictions shift up"),
}


def metric_of(train: dict, name: str) -> float | None:
    value = (train.get("metrics") or {}).get(name, train.get(name))
    return value if isinstance(value, (int, float)) else None


@dataclass
class Story:
    stack: LocalStack
    api: AppClient | None = None
    runs: list[dict] = field(default_factory=list)
    act: Act = ACTS["digits"]

    def land(self, kind: str, rows: int, variant: str, seed: int, name: str) -> str:
        from training.generate import upload_batch

        s = self.stack.settings()
        other = {}
        if self.act.feed == "diabetes":
            from training.diabetes.generate import PREFIX, make_batch

            other = {"prefix": f"{PREFIX}/", "make": make_batch}
        return upload_batch(kind, rows, variant, seed, name=name, container=s["LANDING_CONTAINER"],
                            connection_string=s["STORAGE_CONNECTION_STRING"], **other)

    def follow(self, blob: str, title: str) -> dict:
        """Wait for the run of `blob` to appear and finish, with a progress bar per stage."""
        stages = ["waiting for the event", "Preprocess", "Train", "Score", "judging"]
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.fields[stage]}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task(title, total=len(stages), stage="waiting for the event")
            deadline = time.monotonic() + 300
            batch_id = None
            while time.monotonic() < deadline:
                if batch_id is None:
                    found = [r for r in self.api.runs(50)
                             if blob in {f["name"] for f in r.get("files", [])}]
                    batch_id = found[0]["batchId"] if found else None
                    time.sleep(0.3)
                    continue
                record = self.api.run(batch_id)
                live = (record.get("live") or {}).get("customStatus") or {}
                stage = live.get("stage") or record.get("status")
                if stage in stages:
                    progress.update(task, completed=stages.index(stage), stage=stage)
                if record.get("status") in ("succeeded", "failed", "timed_out", "cancelled"):
                    progress.update(task, completed=len(stages), stage=record["status"])
                    record["noticedAfterSeconds"] = self.noticed_after(record)
                    self.runs.append(record)
                    return record
                time.sleep(0.5)
        raise StepFailed(f"{title}: no finished run for {blob} within 300 s")

    def noticed_after(self, record: dict) -> float | None:
        """Seconds from the ADF run's end to the orchestration's final status (the run
        watcher's lag), or None when it cannot be told."""
        from datetime import datetime

        from shared.services import services_for
        from shared.settings import load_settings

        try:
            adf = services_for(load_settings(self.stack.settings())).adf
            end = adf.run_status(record["adfRunIds"][-1])["runEnd"]
            return (datetime.fromisoformat(record["finishedAt"])
                    - datetime.fromisoformat(end.replace("Z", "+00:00"))).total_seconds()
        except Exception:  # a summary column, never a reason for the demo to fail
            return None

    def expect_alerts(self, kinds: set[str], condition: str, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = {a["body"]["data"]["essentials"]["alertRule"]
                   for a in self.stack.receiver.alerts(condition=condition)}
            if kinds <= got:
                return [a for a in self.stack.receiver.alerts(condition=condition)
                        if a["body"]["data"]["essentials"]["alertRule"] in kinds]
            time.sleep(0.3)
        raise StepFailed(f"the receiver did not get {condition} alerts for {sorted(kinds)}")


def _succeeded(record: dict, step: str) -> dict:
    if record.get("status") != "succeeded":
        raise StepFailed(f"{step}: run {record['batchId']} ended {record.get('status')}: "
                         f"{record.get('error')}")
    return record


def tell(story: Story) -> None:
    with console.status("starting Azurite, the Data Factory emulator, the alert receiver, "
                        "the host stand-in; deploying adf/ and uploading training/ ..."):
        story.stack.start()
    host = story.stack.host
    story.api = AppClient(host.base_url, host.function_key)
    console.log(f"[green]local stack up[/]: host {host.base_url}, Data Factory "
                f"{story.stack.emulator.endpoint}, receiver {story.stack.receiver.url}")

    act = story.act
    feed = "" if act.feed == "digits" else f" ({act.feed} feed)"
    console.rule(f"1. a labelled batch lands{feed}")
    blob = story.land("labelled", act.train_rows, "clean", 1, "demo-labelled")
    console.log(f"landed {blob}; the blob watcher turns it into a BlobCreated event")
    run = _succeeded(story.follow(blob, "train-and-score run"), "labelled batch")
    train = run["outputs"]["Train"]
    console.log(f"model {train['modelVersion']}: {act.metric} "
                f"{metric_of(train, act.metric):.3f}, decision [bold]{train['decision']}[/]; "
                f"{run['outputs']['Score']['rows']} predictions written")

    console.rule(f"2. an unlabelled batch lands{feed}")
    blob = story.land("unlabelled", act.score_rows, "clean", 2, "demo-unlabelled")
    run = _succeeded(story.follow(blob, "score-only run"), "unlabelled batch")
    console.log(f"scored {run['outputs']['Score']['rows']} rows with the champion")

    console.rule(f"3. a drifted batch lands ({act.drift_text})")
    blob = story.land("unlabelled", act.score_rows, "drifted", 3, "demo-drifted")
    _succeeded(story.follow(blob, "score-only run"), "drifted batch")
    for a in story.expect_alerts(set(act.drift_alerts), "Fired"):
        ess = a["body"]["data"]["essentials"]
        console.log(f"[red]alert Fired[/] {ess['alertRule']} ({ess['severity']}), "
                    f"signature valid: {a['signatureValid']}: {ess['description']}")

    console.rule(f"4. a clean batch lands{feed}")
    blob = story.land("unlabelled", act.score_rows, "clean", 4, "demo-clean")
    _succeeded(story.follow(blob, "score-only run"), "clean batch")
    for a in story.expect_alerts(set(act.drift_alerts), "Resolved"):
        console.log(f"[green]alert Resolved[/] {a['body']['data']['essentials']['alertRule']}")


def summary(story: Story) -> Table:
    table = Table(title="adf-ml-glue demo: what happened")
    for col in ("batch", "mode", "status", "stages (s)", "noticed (s)", story.act.metric,
                "decision", "alerts"):
        table.add_column(col)
    for r in story.runs:
        stages = ", ".join(f"{s['name']} {s.get('durationSeconds') or 0:.0f}"
                           for s in r.get("stages", []))
        train = r.get("outputs", {}).get("Train", {})
        alerts = ", ".join(f"{a['kind']} {a['type']}" for a in r.get("alerts", [])) or "-"
        lag = r.get("noticedAfterSeconds")
        table.add_row(r["batchId"][:28], r["mode"], r["status"], stages,
                      "-" if lag is None else f"{lag:.1f}",
                      "-" if metric_of(train, story.act.metric) is None
                      else f"{metric_of(train, story.act.metric):.3f}",
                      train.get("decision", "-"), alerts)
    received = story.stack.receiver.received
    fired = sum(1 for a in received if a["body"]["data"]["essentials"]["monitorCondition"] == "Fired")
    table.caption = ("noticed: seconds from the ADF run's end to the run's final status (run "
                     f"watcher). Alerts at the receiver: {fired} fired, "
                     f"{len(received) - fired} resolved. "
                     f"Outputs: container '{story.stack.settings().get('ML_CONTAINER')}' "
                     "(models/, predictions/, curated/, quarantine/); run records and alerts in "
                     f"'{story.stack.settings().get('STATE_CONTAINER')}'")
    return table


def keep_up(stack: LocalStack) -> None:
    """Wait for Ctrl-C or SIGTERM with the stack running."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    console.print(f"the local stack stays up (host {stack.host.base_url}); Ctrl-C stops it")
    stopping.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devstack demo", description=__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true",
                   help="keep the stack up after the story (and its data folder) until Ctrl-C, "
                        "to look at the dashboard")
    p.add_argument("--feed", choices=sorted(ACTS), default="digits",
                   help="whose story: the digits (default) or the example regression feed, "
                        "run with feeds.example.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = ROOT / ".devstack" / "demo"
    shutil.rmtree(root, ignore_errors=True)
    overrides = dict(DEMO_SETTINGS)
    if args.feed != "digits":
        overrides["FEEDS_FILE"] = str(ROOT / "feeds.example.json")
    story = Story(LocalStack(root, overrides=overrides), act=ACTS[args.feed])
    started = time.monotonic()
    try:
        tell(story)
        console.print(summary(story))
        console.print(f"[bold green]demo passed[/] in {time.monotonic() - started:.0f} s")
        console.print(f"dashboard: [bold]{dashboard_url(story.stack.host)}[/]"
                      + ("" if args.keep else "  (run with --keep to open it)"), soft_wrap=True)
        if args.keep:
            keep_up(story.stack)
        return 0
    except StepFailed as exc:
        console.print(summary(story))
        console.print(f"[bold red]demo failed[/]: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stopping everything[/]")
        return 130
    finally:
        with console.status("stopping the local stack ..."):
            story.stack.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
