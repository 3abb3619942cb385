import pytest

from tests.integration.alerts.receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r
