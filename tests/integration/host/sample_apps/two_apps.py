"""Two function apps at module level: the worker refuses this, and so does the host."""
import azure.durable_functions as df
import azure.functions as func

app = func.FunctionApp()
myApp = df.DFApp()


@myApp.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}"
