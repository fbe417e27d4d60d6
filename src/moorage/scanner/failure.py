"""A failed scan's JSON form (``moorage-scan-failure/1``): what ``moorage scan -f json`` and
``moorage sbom -f json`` write instead of a report when the image cannot be scanned.

A separate schema on purpose: a failure has no inventory, so it must never be read back as a clean
report (``moorage rematch`` refuses it). ``failure.code`` is the error's code
(:mod:`moorage.scanner.errors`): a :class:`~moorage.scanner.limits.LimitCode` when the image is past
one of the scan's bounds, else ``image_unreadable``, ``digest_mismatch``, ``layer_unreadable``,
``malformed_input``, ``cache_unusable`` or ``scan_failed``. Documented in
docs/scan-report-format.md.
"""

from __future__ import annotations

from typing import Any

import moorage
from moorage.scanner.errors import LimitExceeded, ScannerError

FAILURE_SCHEMA = "moorage-scan-failure/1"
"""The ``schema`` value of a failure document."""


def failure_document(
    reference: str, error: ScannerError, *, created_at: str, options: dict[str, str]
) -> dict[str, Any]:
    """The failure document for a scan of ``reference`` that ended with ``error``.

    ``options`` maps a ``ScanLimits`` field to the way the caller lets a user change it (a CLI
    option, a setting), named in ``failure.limit.option``.
    """
    failure: dict[str, Any] = {"code": error.code, "message": str(error)}
    if isinstance(error, LimitExceeded):
        failure["limit"] = {"name": error.setting, "value": error.limit, "option": options.get(error.setting, "")}
        failure["layer_digest"] = error.layer_digest
    return {
        "schema": FAILURE_SCHEMA,
        "generator": f"moorage {moorage.__version__}",
        "created_at": created_at,
        "image": {"reference": reference},
        "status": "failed",
        "failure": failure,
    }
