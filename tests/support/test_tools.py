"""The tool rule: a missing system tool skips the test with the reason, except under
MOORAGE_REQUIRE_TOOLS (the full ./dev test), where it fails it."""

from __future__ import annotations

import pytest

from tests.support import tools

ABSENT = "moorage-no-such-tool-anywhere"


def test_missing_tool_skips_with_package_and_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tools.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"needs {ABSENT}"):
        tools.require_tool("sh", ABSENT)


@pytest.mark.parametrize("value", ["1", "yes", "true"])
def test_missing_tool_fails_when_tools_are_required(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(tools.REQUIRE_ENV, value)
    with pytest.raises(pytest.fail.Exception, match=f"needs {ABSENT}.*{tools.REQUIRE_ENV}"):
        tools.require_tool(ABSENT)


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_present_tools_pass_either_way(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(tools.REQUIRE_ENV, value)
    tools.require_tool("sh", "/bin/sh")
    assert tools.missing_tools("sh", "/bin/sh", ABSENT, "/" + ABSENT) == [ABSENT, "/" + ABSENT]


def test_package_names_come_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tools.REQUIRE_ENV, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.skip.Exception, match=r"needs rpmbuild, ctr \(Debian package containerd, rpm;"):
        tools.require_tool("rpmbuild", "ctr")


def test_marks_are_checked(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The root conftest calls ``apply_marks`` for every test before its fixtures: a mark added here
    (after that call) shows what it does."""
    monkeypatch.delenv(tools.REQUIRE_ENV, raising=False)
    tools.apply_marks(request.node)
    request.node.add_marker(pytest.mark.requires_tool("sh", ABSENT))
    with pytest.raises(pytest.skip.Exception, match=f"needs {ABSENT}"):
        tools.apply_marks(request.node)
