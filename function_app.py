"""The Function App: builds `app` and registers the blueprints. No I/O, no clients, no heavy
imports here (cold start): blueprints import `shared` lazily inside their handlers."""
import azure.durable_functions as df

from functions.health import bp as health_bp

app = df.DFApp()
app.register_functions(health_bp)
