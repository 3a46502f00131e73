import jax
import pytest

SHARED_DATA = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def key():
    return jax.random.key(0)


def require_shared_data():
    """Skip a test that reads the real data files when they are not beside the project."""
    if not SHARED_DATA.exists():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA
