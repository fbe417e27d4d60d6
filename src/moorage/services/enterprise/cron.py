"""The cron expressions of schedules: they moved to ``moorage.domain.cron`` (pure parsing, which the
settings use too); this name stays for the services that import it from here."""

from __future__ import annotations

from moorage.domain.cron import CronSchedule

__all__ = ["CronSchedule"]
