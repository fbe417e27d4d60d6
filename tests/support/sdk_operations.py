# ruff: noqa: RUF001, RUF002 - the SDKs' documentation is Chinese: full-width colons, commas and parentheses
"""What the official Huawei Cloud SDKs say about their operations, read from the SDK packages
themselves: each client's operations (method, resource path, request model, query and path
parameters) and the values the request models' documentation enumerates for a parameter.

The SDKs document enumerations in their Chinese docstrings in a handful of shapes, all parsed here:

- HSS: ``**取值范围**: - critical ：严重 - high ：高危 ...`` (value, full-width colon, meaning);
- SWR: ``可设置为desc（降序）、asc（升序）``, ``可设置为app_server, linux, ...``, ``支持desc、asc``,
  ``可选Initialized、Pending、...``, ``目前支持pull,delete,create``, ``支持的状态为：Creating,...``,
  ``实例状态, Initial, Creating, ...``;
- both: ``self: 我共享的镜像。thirdparty: ...`` (values each followed by a colon and a meaning).

``filter`` strings (``namespace::{namespace}|...``) describe a format, not values of their own, and
``最大支持100条`` (at most 100) is a bound: neither is read as an enumeration.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_RANGE = re.compile(r"\*\*取值范围\*\*\s*[:：](.*?)(?:\*\*默认取值\*\*|$)", re.S)
_DASH_ITEM = re.compile(rf"(?:^|\s)-\s*({_TOKEN})\s*[:：]")
_LIST_AFTER = re.compile(
    rf"(?:可设置为|可选为|可选|目前支持|支持的\w*(?:为|有)\s*[:：]?|(?<!最大)支持)\s*"
    rf"({_TOKEN}(?:（[^）]*）)?(?:\s*(?:[,，、]|或者|或)\s*{_TOKEN}(?:（[^）]*）)?)*)"
)
_LIST_AFTER_LABEL = re.compile(rf"^[\u4e00-\u9fff]+\s*[,，]\s*({_TOKEN}(?:\s*[,，]\s*{_TOKEN})+)")
_VALUE_COLON = re.compile(rf"(?:^|[\s。，；;-])({_TOKEN})\s*[:：](?![:/])")


@dataclass(frozen=True)
class SdkOperation:
    """One operation of an SDK client class."""

    name: str
    method: str
    path: str
    request_class: type[Any]
    query: tuple[str, ...]
    path_params: tuple[str, ...]


def client_operations(client: type[Any]) -> dict[str, SdkOperation]:
    """Every operation of ``client`` (an SDK client class) that has a request model, by name."""
    models = importlib.import_module(client.__module__.rsplit(".", 1)[0])
    found = {}
    for attribute in dir(client):
        if not (m := re.fullmatch(r"_(\w+)_http_info", attribute)):
            continue
        name = m.group(1)
        request_class = getattr(models, "".join(part.title() for part in name.split("_")) + "Request", None)
        if request_class is None:
            continue
        probe = request_class()
        for parameter in probe.attribute_map:
            setattr(probe, parameter, "x")
        info = getattr(client, attribute)(probe)
        found[name] = SdkOperation(
            name,
            info["method"],
            info["resource_path"],
            request_class,
            tuple(key for key, _value in info["query_params"]),
            tuple(info["path_params"]),
        )
    return found


def _items(text: str) -> list[str]:
    values = re.findall(rf"({_TOKEN})(?:（[^）]*）)?", re.sub(r"或者|或", ",", text))
    return list(dict.fromkeys(values))


def enumerated_values(request_class: type[Any]) -> dict[str, list[str]]:
    """parameter -> the values its documentation enumerates (parameters without an enumeration are left out)."""
    doc = inspect.getdoc(request_class.__init__) or ""
    found: dict[str, list[str]] = {}
    for m in re.finditer(r":param (\w+): (.*?)(?=\n\s*:type)", doc, re.S):
        name, text = m.group(1), " ".join(m.group(2).split())
        values: list[str] = []
        if "::{" in text:
            continue  # a format (``filter=namespace::{namespace}|...``) naming its fields' values, not one of its own
        if ranged := _RANGE.search(text):
            values = _DASH_ITEM.findall(ranged.group(1))
        elif listed := _LIST_AFTER.search(text):
            values = _items(listed.group(1))
        elif labelled := _LIST_AFTER_LABEL.search(text):
            values = _items(labelled.group(1))
        else:
            pairs = _VALUE_COLON.findall(text)
            values = pairs if len(pairs) >= 2 else []
        if values:
            found[name] = list(dict.fromkeys(values))
    return found
