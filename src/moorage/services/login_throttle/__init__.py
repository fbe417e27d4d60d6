"""Login throttling shared by every worker and node: the policy (``policy.py``) over a store of
counters with an expiry (``interface.py``; the database by default, Redis when ``redis_url`` is set)."""

from __future__ import annotations

from moorage.auth.keys import MasterKey
from moorage.metadata.database import Database
from moorage.services.login_throttle.database_store import DatabaseFailureStore
from moorage.services.login_throttle.interface import FailureCount, FailureStore
from moorage.services.login_throttle.policy import Attempt, LoginThrottle, ThrottlePolicy
from moorage.services.login_throttle.redis_store import RedisFailureStore
from moorage.settings.sections import AuthSettings

__all__ = [
    "Attempt",
    "DatabaseFailureStore",
    "FailureCount",
    "FailureStore",
    "LoginThrottle",
    "RedisFailureStore",
    "ThrottlePolicy",
    "build_login_throttle",
]


def build_login_throttle(
    *, db: Database, settings: AuthSettings, master_key: MasterKey, redis_url: str = ""
) -> LoginThrottle:
    """The throttle the settings describe: counters in Redis when ``redis_url`` is set, else in ``db``."""
    store: FailureStore = RedisFailureStore(redis_url) if redis_url else DatabaseFailureStore(db)
    return LoginThrottle(store, ThrottlePolicy.from_settings(settings), key=master_key.derive("login-throttle"))
