"""Why a scan failed, as the documented ``scan_failed_code`` values, and the conversion of the
errors a scan meets (registry client, scanner, database) into them."""

from __future__ import annotations

from moorage.domain.security import FAILURE_DESCRIPTIONS


class ScanFailure(Exception):
    """A scan that cannot complete; ``code`` is one of ``FAILURE_DESCRIPTIONS``."""

    def __init__(self, code: str, message: str = "") -> None:
        if code not in FAILURE_DESCRIPTIONS:
            raise ValueError(f"unknown scan failure code {code!r}")
        self.code = code
        self.message = message or FAILURE_DESCRIPTIONS[code]
        super().__init__(f"{code}: {self.message}")


def failure_from(error: BaseException) -> ScanFailure:
    """The failure an exception met during a scan stands for (the cause chain is searched, so a
    registry error wrapped by the scanner still reads as what it was)."""
    from sqlalchemy.exc import SQLAlchemyError

    from moorage.clients.errors import AuthenticationError, ImageTooLargeError, NotFoundError, RegistryError
    from moorage.domain.errors import ManifestInvalid
    from moorage.scanner.advisories.errors import VulnerabilityDatabaseError
    from moorage.scanner.errors import ImageSourceError, LimitExceeded, ScannerError

    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = str(error)[:500]
    for found in chain:
        if isinstance(found, ScanFailure):
            return found
        if isinstance(found, AuthenticationError):
            return ScanFailure("authentication_failed", text)
        if isinstance(found, ImageTooLargeError):
            return ScanFailure("image_over_sized", text)
        if isinstance(found, NotFoundError):
            return ScanFailure("get_detail_info_not_found", text)
        if "schema 1" in str(found).lower() or "schema v1" in str(found).lower():
            return ScanFailure("schema_v1_not_support", text)
        if isinstance(found, TimeoutError):
            return ScanFailure("response_timed_out", text)
        if isinstance(found, LimitExceeded):  # a decompression bomb, or more than the scanner reads
            return ScanFailure("image_over_sized", f"{found.code}: {text}")
    for found in chain:
        if isinstance(found, RegistryError | ManifestInvalid):
            return ScanFailure("download_failed", text)
        if isinstance(found, VulnerabilityDatabaseError):
            return ScanFailure("failed_to_scan_vulnerability", text)
        if isinstance(found, SQLAlchemyError):
            return ScanFailure("database_error", text)
        if isinstance(found, ImageSourceError):
            return ScanFailure("download_failed", text)
        if isinstance(found, ScannerError):
            return ScanFailure("failed_to_scan_software", text)
    return ScanFailure("unknown_error", f"{type(error).__name__}: {text}")
