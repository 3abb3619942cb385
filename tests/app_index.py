"""The app's functions as the worker indexes them. `FunctionApp.get_functions()` remembers
the names it validated, so a second call in one process fails as if names were duplicated:
forget them first (the worker itself calls it once)."""
from function_app import app


def app_functions():
    app.functions_bindings = {}
    return app.get_functions()
