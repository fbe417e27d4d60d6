"""How hard the fuzz tests try: a short run in the suite, a long one on demand with
``MOORAGE_FUZZ_EXAMPLES=100000 ./dev test tests/fuzz``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("MOORAGE_FUZZ_EXAMPLES", "150"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
"""Settings of every fuzz test (``@FUZZ``)."""
