"""Orchestrator replay cost on the host stand-in's Durable engine.

A monitor-style orchestration polls (an activity) and sleeps (a durable timer), cycle after
cycle. Every episode replays the whole history through azure-functions-durable's executor,
so without `continue_as_new` a step gets slower as the history grows; with it, each cycle
starts from a fresh history. Measured with the engine's own state machine (`core.step`,
through `Simulator`: no storage, simulated clock), the time per replay step after 10 and
after 1,000 cycles.
"""
from __future__ import annotations

import json
import statistics
import sys
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from bench.common import Row
from devstack.host.durable.simulate import Simulator

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def monitor_loop(context):
    """One long execution: the history grows with every cycle."""
    cycles = context.get_input()
    for _ in range(cycles):
        yield context.call_activity("poll", None)
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    return cycles


@app.orchestration_trigger(context_name="context")
def monitor_renewing(context):
    """One cycle per execution: continue_as_new keeps the history to one cycle."""
    state = context.get_input()
    yield context.call_activity("poll", None)
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=30))
    if state["n"] + 1 < state["cycles"]:
        context.continue_as_new({"n": state["n"] + 1, "cycles": state["cycles"]})
        return None
    return state["cycles"]


ORCHESTRATORS = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
STEPS_PER_CYCLE = {"monitor_loop": 2, "monitor_renewing": 3}  # episodes each cycle costs


def step_times(name: str, cycles: int, marks: list[int]) -> dict[int, float]:
    """Median seconds per replay step over the 3 cycles ending at each mark."""
    sim = Simulator(ORCHESTRATORS, {"poll": lambda _: "Running"},
                    datetime(2026, 1, 1, tzinfo=UTC))
    payload = cycles if name == "monitor_loop" else {"n": 0, "cycles": cycles}
    rec = sim.start(name, "bench", json.dumps(payload))  # input as the client sends it
    sim.run()
    assert rec["runtimeStatus"] == "Completed", rec["output"]
    per = STEPS_PER_CYCLE[name]
    out = {}
    for mark in marks:
        window = sim.step_seconds[(mark - 3) * per:mark * per]
        out[mark] = statistics.median(window)
    return out


def run(short: bool = False) -> list[Row]:
    far = 100 if short else 1000
    marks = [10, far]
    grow = step_times("monitor_loop", far, marks)
    flat = step_times("monitor_renewing", far, marks)
    ms = lambda s: f"{s * 1000:.2f} ms/step"  # noqa: E731
    grow_ratio = grow[far] / grow[10]
    flat_ratio = flat[far] / flat[10]
    return [
        Row("replay", f"no continue_as_new: step after {far:,} cycles vs after 10",
            f"{ms(grow[far])} vs {ms(grow[10])}", grow_ratio,
            "grows with history (informative)", None),
        Row("replay", f"continue_as_new: step after {far:,} cycles vs after 10",
            f"{ms(flat[far])} vs {ms(flat[10])}", flat_ratio, "<= 1.5x",
            flat_ratio <= 1.5),
        Row("replay", f"continue_as_new vs none, step after {far:,} cycles",
            f"{ms(flat[far])} vs {ms(grow[far])}", flat[far] / grow[far],
            "<= 0.5x" if short else "<= 0.1x",
            flat[far] / grow[far] <= (0.5 if short else 0.1)),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short="--short" in sys.argv))
