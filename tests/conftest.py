"""Shared pytest setup."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `from helpers import ...`


@pytest.fixture(autouse=True)
def _threads_even_for_small_work(monkeypatch):
    """functional runs small calls on one thread (fastconv.functional.SMALL_FLOPS / SMALL_ELEMENTS).
    Tests use small arrays on purpose, so they lower those thresholds to zero: every call then
    really runs with the configured thread count, and thread-count tests compare what they claim."""
    try:
        import fastconv.functional as F
    except ImportError:  # extension not built: the tests that need it fail on their own
        return
    monkeypatch.setattr(F, "SMALL_FLOPS", 0)
    monkeypatch.setattr(F, "SMALL_ELEMENTS", 0)


@pytest.fixture
def config():
    """Set ISA / threads inside a test and restore them afterwards: config(isa_name=..., threads=...)."""
    import fastconv
    isa, nt = fastconv.get_isa(), fastconv.get_num_threads()

    def use(isa_name=None, threads=None):
        if isa_name is not None:
            fastconv.set_isa(isa_name)
        if threads is not None:
            fastconv.set_num_threads(threads)
    yield use
    fastconv.set_isa(isa)
    fastconv.set_num_threads(nt)
