"""``moorage vulndb`` end to end through the real command-line application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moorage.cli.main import app
from tests.scanner.advisories.feedwriters import osv_record, osv_zip, write_alpine_secdb, write_osv_dir
from tests.support.feed_server import feed_server

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_info_show_export_import(tmp_path: Path) -> None:
    osv = write_osv_dir(
        tmp_path / "osv",
        [
            osv_record(
                "GHSA-1111-2222-3333",
                package="requests",
                events=[{"introduced": "0"}, {"fixed": "2.31.0"}],
                aliases=["CVE-2023-32681"],
            )
        ],
    )
    alpine = write_alpine_secdb(tmp_path / "secdb" / "main.json", "v3.19", {"curl": {"8.5.0-r0": ["CVE-2023-46218"]}})
    database = tmp_path / "db" / "advisories.sqlite"
    code, out, err = _invoke(
        "vulndb", "build", "-s", f"osv:{osv}", "--source", f"alpine:{alpine}", "--db", str(database), "--json"
    )
    assert code == 0, err
    built = json.loads(out)
    assert (built["advisories"], built["scopes"]) == (2, {"alpine:3.19": 1, "pypi": 1})

    code, out, _ = _invoke("vulndb", "info", "--db", str(database))
    assert code == 0
    assert "alpine:3.19" in out and "schema" in out

    code, out, _ = _invoke("vulndb", "show", "CVE-2023-32681", "--db", str(database))
    assert code == 0
    [record] = json.loads(out)
    assert record["id"] == "GHSA-1111-2222-3333"
    assert record["affected"][0]["ranges"][0]["events"] == [["introduced", "0"], ["fixed", "2.31.0"]]

    bundle = tmp_path / "vulndb.bundle"
    code, out, _ = _invoke("vulndb", "export", str(bundle), "--db", str(database))
    assert code == 0 and "sha256" in out
    elsewhere = tmp_path / "elsewhere.sqlite"
    code, out, _ = _invoke("vulndb", "import", str(bundle), "--db", str(elsewhere), "--json")
    assert code == 0
    assert json.loads(out)["built_at"] == built["built_at"]


def test_database_path_from_the_environment(tmp_path: Path) -> None:
    osv = write_osv_dir(tmp_path / "osv", [osv_record("PYSEC-1", events=[{"introduced": "0"}])])
    database = tmp_path / "env.sqlite"
    result = runner.invoke(app, ["vulndb", "build", "-s", f"osv:{osv}"], env={"MOORAGE_VULNDB_PATH": str(database)})
    assert result.exit_code == 0, result.stderr
    assert database.is_file()


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    code, _, err = _invoke("vulndb", "info", "--db", str(tmp_path / "missing.sqlite"))
    assert code == 1 and "no advisory database" in err
    code, _, err = _invoke("vulndb", "build", "-s", "nope:/x", "--db", str(tmp_path / "db.sqlite"))
    assert code == 1 and "unknown source kind" in err
    bad_bundle = tmp_path / "bad.bundle"
    bad_bundle.write_bytes(b"x" * 1024)
    code, _, err = _invoke("vulndb", "import", str(bad_bundle), "--db", str(tmp_path / "db.sqlite"))
    assert code == 1 and "bundle" in err
    code, _, err = _invoke("vulndb", "update", "--db", str(tmp_path / "missing.sqlite"))
    assert code == 1 and "no advisory database" in err
    assert "Traceback" not in err


def test_without_db_the_commands_use_the_servers_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOORAGE_VULNDB_PATH", raising=False)
    monkeypatch.delenv("MOORAGE_SCANNER__VULNDB_PATH", raising=False)
    monkeypatch.setenv("MOORAGE_DATA_DIR", str(tmp_path / "data"))
    record = osv_record("GHSA-cli1-0001-0001", package="requests", events=[{"introduced": "0"}, {"fixed": "2.31.0"}])
    with feed_server({"/osv/PyPI/all.zip": osv_zip([record])}) as feeds:
        code, _, err = _invoke("vulndb", "update")
        assert code == 1 and "no sources configured" in err, "nothing to build from: says so"
        monkeypatch.setenv("MOORAGE_SCANNER__VULNDB_SOURCES", f"osv:{feeds.url('/osv/PyPI/all.zip')}")
        code, out, err = _invoke("vulndb", "update", "--json")  # no database yet: the configured sources
    assert code == 0, err
    server_file = (tmp_path / "data" / "vulndb.sqlite").resolve()
    assert json.loads(out)["path"] == str(server_file) and server_file.is_file()
    assert f"[1/1] osv {feeds.url('/osv/PyPI/all.zip')}: 1 records" in err
    code, out, _ = _invoke("vulndb", "info", "--json")
    assert code == 0 and json.loads(out)["path"] == str(server_file)
    code, _, err = _invoke("vulndb", "info", "--data-dir", str(tmp_path / "elsewhere"))
    assert code == 1 and str(tmp_path / "elsewhere" / "vulndb.sqlite") in err
    monkeypatch.setenv("MOORAGE_SCANNER__VULNDB_PATH", str(server_file))
    code, out, _ = _invoke("vulndb", "show", "GHSA-cli1-0001-0001", "--data-dir", str(tmp_path / "elsewhere"))
    assert code == 0 and json.loads(out)[0]["id"] == "GHSA-cli1-0001-0001", "the server's own path setting wins"
