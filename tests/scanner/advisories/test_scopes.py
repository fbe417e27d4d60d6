"""Scopes and names: feeds and images must spell a release and a package the same way."""

from __future__ import annotations

import pytest

from moorage.scanner.advisories.scopes import (
    distro_scope,
    normalise_name,
    osv_scope,
    package_key,
    scopes_for_distro,
    source_package_name,
)
from moorage.scanner.inventory import Distro, Ecosystem, Package


@pytest.mark.parametrize(
    ("distro", "release", "scope"),
    [
        ("debian", "12", "debian:12"),
        ("debian", "12.5", "debian:12"),
        ("debian", "bookworm", "debian:12"),
        ("debian", "sid", "debian:sid"),
        ("ubuntu", "22.04", "ubuntu:22.04"),
        ("alpine", "3.19.1", "alpine:3.19"),
        ("alpine", "v3.19", "alpine:3.19"),
        ("alpine", "3.20.0_alpha20240329", "alpine:edge"),
        ("rhel", "9.3", "rhel:9"),
        ("rocky", "8.9", "rocky:8"),
        ("wolfi", "20230201", "wolfi:"),
        ("opensuse-leap", "15.5", "opensuse-leap:15.5"),
    ],
)
def test_release_spellings_meet(distro: str, release: str, scope: str) -> None:
    assert distro_scope(distro, release) == scope


def test_image_scopes_and_rhel_fallback() -> None:
    assert [s.scope for s in scopes_for_distro(Distro("debian", "", codename="trixie"))] == ["debian:13"]
    assert [s.scope for s in scopes_for_distro(Distro("rocky", "9.3"))] == ["rocky:9", "rhel:9"]
    assert [s.scope for s in scopes_for_distro(Distro("centos", "9"))] == ["centos:9", "rhel:9"]
    assert [s.scope for s in scopes_for_distro(Distro("ubuntu", "22.04", id_like=("debian",)))] == ["ubuntu:22.04"]
    assert scopes_for_distro(Distro("arch", "")) == ()


def test_osv_ecosystems_that_need_a_subscription_are_not_matched() -> None:
    assert osv_scope("Ubuntu:Pro:18.04:LTS") is None
    assert osv_scope("Ubuntu:22.04:LTS:FIPS") is None
    assert osv_scope("Red Hat:rhel_eus:9.2::appstream") is None


@pytest.mark.parametrize(
    ("ecosystem", "name", "key"),
    [
        (Ecosystem.PYPI, "Django_Rest.Framework", "django-rest-framework"),
        (Ecosystem.CARGO, "Serde_JSON", "serde-json"),
        (Ecosystem.NPM, "JSONStream", "jsonstream"),
        (Ecosystem.GOLANG, "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"),
        (Ecosystem.MAVEN, "org.Example:Thing", "org.Example:Thing"),
        (Ecosystem.NUGET, "Newtonsoft.Json", "newtonsoft.json"),
    ],
)
def test_names_normalise(ecosystem: Ecosystem, name: str, key: str) -> None:
    assert normalise_name(ecosystem, name) == key


def test_package_keys_and_source_rpm_names() -> None:
    def package(ecosystem: Ecosystem, name: str, namespace: str = "", source: str = "") -> Package:
        return Package(ecosystem, name, "1", "pkg:x/y", namespace=namespace, source_name=source)

    assert package_key(package(Ecosystem.MAVEN, "log4j-core", "org.apache.logging.log4j")) == (
        "org.apache.logging.log4j:log4j-core"
    )
    assert package_key(package(Ecosystem.NPM, "traverse", "@babel")) == "@babel/traverse"
    assert package_key(package(Ecosystem.NPM, "traverse", "babel")) == "@babel/traverse"
    assert package_key(package(Ecosystem.NPM, "@babel/traverse", "@babel")) == "@babel/traverse"
    assert package_key(package(Ecosystem.GOLANG, "gin", "github.com/gin-gonic")) == "github.com/gin-gonic/gin"
    assert package_key(package(Ecosystem.GOLANG, "github.com/gin-gonic/gin", "github.com/gin-gonic")) == (
        "github.com/gin-gonic/gin"
    )
    assert package_key(package(Ecosystem.COMPOSER, "http-foundation", "symfony")) == "symfony/http-foundation"
    assert source_package_name(package(Ecosystem.RPM, "openssl-libs", source="openssl-3.0.7-16.el9_2.src.rpm")) == (
        "openssl"
    )
    assert source_package_name(package(Ecosystem.RPM, "x", source="java-17-openjdk-17.0.9.0.9-2.el9.src.rpm")) == (
        "java-17-openjdk"
    )
    assert source_package_name(package(Ecosystem.DEB, "libssl3", source="openssl")) == "openssl"
