"""devstack.host.index.load_app finds the app as the Python worker does."""
from __future__ import annotations

import textwrap
import uuid

import pytest

from devstack.host.index import index_app, load_app


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Write `source` as a fresh module on sys.path and return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        name = f"sample_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


def test_any_variable_name_is_found(module):
    name = module("""
        import azure.durable_functions as df
        import azure.functions as func
        myApp = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
        bp = df.Blueprint()  # a blueprint is not an app

        @myApp.activity_trigger(input_name="city")
        def hello(city: str) -> str:
            return f"Hello {city}"
    """)
    app = load_app(name)
    assert type(app).__name__ == "DFApp"
    assert [f.name for f in index_app(app).functions] == ["hello"]


def test_a_subclass_of_FunctionApp_is_found(module):
    name = module("""
        import azure.functions as func

        class MyFunctionApp(func.FunctionApp):
            pass

        application = MyFunctionApp()
    """)
    assert type(load_app(name)).__name__ == "MyFunctionApp"


def test_two_apps_are_an_error_naming_both(module):
    name = module("""
        import azure.durable_functions as df
        import azure.functions as func
        app = func.FunctionApp()
        myApp = df.DFApp()
    """)
    with pytest.raises(LookupError, match="more than one function app") as err:
        load_app(name)
    assert "`app` (FunctionApp)" in str(err.value) and "`myApp` (DFApp)" in str(err.value)


def test_one_app_under_two_names_is_refused_as_the_worker_does(module):
    name = module("""
        import azure.functions as func
        app = myApp = func.FunctionApp()
    """)
    with pytest.raises(LookupError, match="`app`.* and `myApp`"):
        load_app(name)


def test_no_app_is_an_error(module):
    name = module("""
        import azure.durable_functions as df
        bp = df.Blueprint()
    """)
    with pytest.raises(LookupError, match="defines no function app"):
        load_app(name)
