"""Where a secret is likely to be, judged on names alone: configuration and dotenv files by their
path (the generic secret rules run only there), JSON files, and variable names that say they hold a
secret (``DB_PASSWORD``, ``API_KEY``; for environment variables and build arguments)."""

from __future__ import annotations

import itertools
import re

_CONFIG_SUFFIXES = (
    ".conf", ".cfg", ".cnf", ".ini", ".properties", ".yaml", ".yml", ".toml", ".json", ".xml",
    ".env", ".config", ".settings", ".props", ".tfvars", ".pgpass", ".netrc", ".npmrc", ".pypirc",
)  # fmt: skip
_CONFIG_NAMES = frozenset({"credentials", ".env", ".netrc", ".pgpass", ".git-credentials", "auth"})


def _basename(path: str) -> str:
    """Last component of a path."""
    return path.rsplit("/", 1)[-1]


_TEMPLATE_WORDS = ("example", "sample", "template", "dist", "default", "tmpl", ".tpl", ".j2")
_PACKAGE_MANIFESTS = frozenset(
    {
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "composer.json",
        "composer.lock",
        "tsconfig.json",
        "bower.json",
        "yarn.lock",
        "pnpm-lock.yaml",
    }
)
_LIBRARY_TREES = (
    "/node_modules/",
    "/site-packages/",
    "/dist-packages/",
    "/usr/share/",
    "/vendor/",
    "/.cache/",
    "/gems/",
)


def is_config_file(path: str) -> bool:
    """Config-like files, where ``password = ...`` is most likely a real setting: not templates, not
    package manifests, not the data files of installed libraries (botocore's service models and npm
    manifests are full of ``"token": "NextToken"`` and ``"js-tokens": "^4.0.0"``)."""
    name = _basename(path).lower()
    if any(word in name for word in _TEMPLATE_WORDS) or name in _PACKAGE_MANIFESTS:
        return False
    if any(tree in path for tree in _LIBRARY_TREES):
        return False

    return name in _CONFIG_NAMES or name.endswith(_CONFIG_SUFFIXES) or name.startswith(".env")


def is_env_file(path: str) -> bool:
    """A dotenv file (``.env``, ``.env.production``, ``prod.env``), not a template of one."""
    name = _basename(path).lower()
    if not (name == ".env" or name.startswith(".env.") or name.endswith(".env")):
        return False
    return not any(word in name for word in _TEMPLATE_WORDS)


def is_json_file(path: str) -> bool:
    """JSON files and docker's legacy ``.dockercfg``."""
    name = _basename(path).lower()
    return name.endswith(".json") or name == ".dockercfg"


_SECRET_NAME_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PASSPHRASE",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATEKEY",
        "SECRETKEY",
        "ACCESSKEY",
        "AUTHTOKEN",
        "PWD",
        "SK",
    }
)
_SECRET_NAME_PAIRS = frozenset({("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY")})
_NOT_SECRET_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_LENGTH", "_TTL", "_EXPIRY", "_URL_FILE")


def is_secret_name(name: str) -> bool:
    """A variable name that says it holds a secret (``DB_PASSWORD``, ``API_KEY``, ``GITHUB_TOKEN``).

    Judged on underscore/dash-separated words, so ``TOKENIZERS_PARALLELISM`` or ``GPG_KEY`` (a
    public key fingerprint) are not secrets, and ``*_FILE`` names (a path to a mounted secret)
    are not either. The bare ``PWD`` is the working directory, not a password.
    """
    upper = name.upper()
    if upper == "PWD" or upper.endswith(_NOT_SECRET_SUFFIXES):
        return False
    words = [w for w in re.split(r"[_\-.]+", upper) if w]
    if any(w in _SECRET_NAME_WORDS for w in words):
        return True
    return any(pair in _SECRET_NAME_PAIRS for pair in itertools.pairwise(words))
