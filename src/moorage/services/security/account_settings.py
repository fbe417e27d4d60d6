"""Per-account settings of the detail queries: ignoring sensitive information (in every image of
the account that has it), the file paths sensitive-information results leave out, and the
account's extended weak passwords (tried, besides the scanner's dictionary, against the password
hashes of its images when weak-password users are listed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.errors import Invalid, NotFound
from moorage.domain.events import NewEvent, Operation, ResourceType, account_event
from moorage.domain.identity import Principal
from moorage.domain.severity import severity_rank
from moorage.metadata.queries import security_details as details_q
from moorage.metadata.queries import security_handling as handling_q
from moorage.services.events.recorder import record_events
from moorage.services.security.detail_base import DetailBase, path_allowed
from moorage.services.security.image_details import SensitiveItem, sensitive_item
from moorage.services.security.images import account_of, image_visibility

MAX_PATHS = 100
MAX_PATH_CHARS = 256
MAX_PASSWORDS = 100
MAX_PASSWORD_CHARS = 64
IGNORE = ("ignore",)
NOT_IGNORE = ("do_not_ignore", "not_ignore", "unignore")


def extended_passwords(conn: Connection, domain_id: str) -> list[str]:
    """The account's extended weak passwords."""
    text = handling_q.setting(conn, domain_id, handling_q.EXTENDED_WEAK_PASSWORDS)
    try:
        found = load_document(text) if text else []
    except ValueError:
        return []
    return [p for p in found if isinstance(p, str)][:MAX_PASSWORDS] if isinstance(found, list) else []


class AccountSettings(DetailBase):
    """See the module docstring."""

    async def operate_sensitive(self, principal: Principal, finding_key: str, operate_type: str) -> None:
        """Ignore a sensitive-information finding, or stop ignoring it."""
        seen = image_visibility(principal)
        domain_id = seen.domain_id
        if operate_type not in (*IGNORE, *NOT_IGNORE):
            raise Invalid(f"operate_type must be one of {', '.join((*IGNORE, *NOT_IGNORE))}")
        user = principal.user_name or principal.user_id or ""

        def work() -> None:
            found = self.db.run_read(lambda conn: details_q.account_findings(conn, seen, ["secret"]))
            if not any(f.finding_key == finding_key for _, f in found):
                raise NotFound(f"sensitive information {finding_key[:64]!r} not found", reason="finding_not_found")

            def write(conn: Connection) -> None:
                handling_q.set_finding_ignored(
                    conn, domain_id, finding_key, ignored=operate_type in IGNORE, user_name=user
                )
                record_events(
                    conn,
                    _setting_event("sensitive_information", {"finding": finding_key, "operate_type": operate_type}),
                )

            self.db.run_write(write)

        await self.run(work)

    async def sensitive(self, principal: Principal, *, image_type: str | None) -> list[SensitiveItem]:
        """Sensitive information over the images the caller sees, one entry per finding, without the
        allowlisted paths, the most severe first."""
        seen = image_visibility(principal)
        domain_id = seen.domain_id

        def work() -> list[SensitiveItem]:
            found = self.db.run_read(lambda conn: details_q.account_findings(conn, seen, ["secret"]))
            allowlist = self.db.run_read(lambda conn: handling_q.path_allowlist(conn, domain_id))
            ignored = self.db.run_read(lambda conn: handling_q.ignored_findings(conn, domain_id))
            items: dict[str, SensitiveItem] = {}
            for row, f in sorted(found, key=lambda x: (-severity_rank(x[1].severity), x[1].path, x[1].finding_key)):
                if (image_type and row.image_type != image_type) or path_allowed(f.path, allowlist):
                    continue
                items.setdefault(f.finding_key, sensitive_item(f, row.latest_scan_time, f.finding_key in ignored))
            return list(items.values())

        return await self.run(work)

    async def path_allowlist(self, principal: Principal) -> list[str]:
        """The account's allowlisted file paths."""
        domain_id = account_of(principal)
        return await self.db.read(lambda conn: handling_q.path_allowlist(conn, domain_id))

    async def set_path_allowlist(self, principal: Principal, paths: Sequence[str]) -> None:
        """Make ``paths`` the account's allowlisted file paths (absolute paths or globs)."""
        domain_id = account_of(principal)
        cleaned = list(dict.fromkeys(p.strip() for p in paths if p.strip()))
        if len(cleaned) > MAX_PATHS:
            raise Invalid(f"at most {MAX_PATHS} paths")
        for path in cleaned:
            if not path.startswith("/") or len(path) > MAX_PATH_CHARS or "\x00" in path:
                raise Invalid(f"a path must be absolute and at most {MAX_PATH_CHARS} characters: {path[:64]!r}")

        def write(conn: Connection) -> None:
            handling_q.replace_path_allowlist(conn, domain_id, cleaned)
            record_events(conn, _setting_event("path_allowlist", {"paths": len(cleaned)}))

        await self.db.write(write)

    async def weak_passwords(self, principal: Principal) -> list[str]:
        """The account's extended weak passwords."""
        domain_id = account_of(principal)
        return await self.db.read(lambda conn: extended_passwords(conn, domain_id))

    async def set_weak_passwords(self, principal: Principal, passwords: Sequence[str]) -> None:
        """Replace the account's extended weak passwords."""
        domain_id = account_of(principal)
        cleaned = list(dict.fromkeys(p for p in passwords if p))
        if len(cleaned) > MAX_PASSWORDS or any(len(p) > MAX_PASSWORD_CHARS or "\x00" in p for p in cleaned):
            raise Invalid(f"at most {MAX_PASSWORDS} passwords of at most {MAX_PASSWORD_CHARS} characters")

        def write(conn: Connection) -> None:
            handling_q.set_setting(conn, domain_id, handling_q.EXTENDED_WEAK_PASSWORDS, json.dumps(cleaned))
            record_events(conn, _setting_event("weak_passwords", {"passwords": len(cleaned)}))  # never the words

        await self.db.write(write)


def _setting_event(setting: str, detail: Mapping[str, object]) -> NewEvent:
    """The event of an account's image-security setting changed."""
    return account_event(Operation.UPDATE, ResourceType.SECURITY_POLICY, setting, detail=detail)
