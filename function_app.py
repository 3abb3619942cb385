"""The Function App: builds `app` and registers the blueprints. No I/O, no clients, no heavy
imports here (cold start): blueprints import `shared` lazily inside their handlers.
Telemetry (`shared.telemetry`) starts only when APPLICATIONINSIGHTS_CONNECTION_STRING is set."""
import os

import azure.durable_functions as df

from functions.alerts_api import bp as alerts_bp
from functions.dashboard import bp as dashboard_bp
from functions.health import bp as health_bp
from functions.openapi import bp as openapi_bp
from functions.orchestration import bp as orchestration_bp
from functions.runs_api import bp as runs_bp
from functions.secrets import bp as secrets_bp
from functions.triggers import bp as triggers_bp

app = df.DFApp()
for blueprint in (health_bp, openapi_bp, triggers_bp, runs_bp, alerts_bp, orchestration_bp,
                  dashboard_bp, secrets_bp):
    app.register_functions(blueprint)

if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
    from shared.telemetry import configure

    configure()
