"""Docker token ``scope`` strings, against an oracle written from distribution's grammar prose rather
than from regular expressions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.auth.headers import MAX_SCOPES, HeaderError, TokenScope, parse_scope, parse_scopes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repository:library/ubuntu:pull", TokenScope("repository", "library/ubuntu", ("pull",))),
        ("repository:group/team/app:pull,push", TokenScope("repository", "group/team/app", ("pull", "push"))),
        ("repository:app:pull,push,delete", TokenScope("repository", "app", ("pull", "push", "delete"))),
        ("repository:app:*", TokenScope("repository", "app", ("*",))),
        ("repository:app:pull,pull,push", TokenScope("repository", "app", ("pull", "push"))),
        ("registry:catalog:*", TokenScope("registry", "catalog", ("*",))),
        ("repository(plugin):vieux/sshfs:pull", TokenScope("repository(plugin)", "vieux/sshfs", ("pull",))),
        ("repository:a.b_c__d-e---f/0:pull", TokenScope("repository", "a.b_c__d-e---f/0", ("pull",))),
    ],
)
def test_parse_scope(text: str, expected: TokenScope) -> None:
    scope = parse_scope(text)
    assert scope == expected
    assert str(scope) == text.replace("pull,pull,push", "pull,push")


def test_scope_unpacks_and_splits_its_class() -> None:
    kind, name, actions = parse_scope("repository(plugin):vieux/sshfs:pull")
    assert (kind, name, actions) == ("repository(plugin)", "vieux/sshfs", ("pull",))
    plugin = parse_scope("repository(plugin):vieux/sshfs:pull")
    assert (plugin.base_type, plugin.resource_class) == ("repository", "plugin")
    plain = parse_scope("repository:a:pull")
    assert (plain.base_type, plain.resource_class) == ("repository", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "repository",
        "repository:app",
        "repository:localhost:5000/app:pull",  # a host with a port: names are ':'-free here
        "repository::pull",
        "repository:app:",
        "repository:app:pull,",
        "repository:app:,pull",
        "repository:app:PULL",
        "repository:app:pull push",
        "repository:App:pull",
        "repository:-app:pull",
        "repository:app-:pull",
        "repository:a___b:pull",
        "repository:a._b:pull",
        "repository:/app:pull",
        "repository:app/:pull",
        "repository:a//b:pull",
        "Repository:app:pull",
        "repository(:app:pull",
        "repository(plugin:app:pull",
        "repository(plugin)(x):app:pull",
        "repository():app:pull",
        "repo-sitory:app:pull",
        ":app:pull",
        "repository:" + "a" * 256 + ":pull",
        "repository:app:pull:push",
    ],
)
def test_parse_scope_refuses(text: str) -> None:
    with pytest.raises(HeaderError):
        parse_scope(text)


def test_parse_scopes_from_several_values_and_spaces() -> None:
    scopes = parse_scopes(
        [
            "repository:group/app:pull,push",
            "repository:base:pull repository:group/app:delete",
            "  registry:catalog:*  ",
            "repository:base:pull",
        ]
    )
    assert scopes == (
        TokenScope("repository", "group/app", ("pull", "push", "delete")),
        TokenScope("repository", "base", ("pull",)),
        TokenScope("registry", "catalog", ("*",)),
    )
    kind, name, actions = scopes[0]
    assert (kind, name, actions) == ("repository", "group/app", ("pull", "push", "delete"))


def test_parse_scopes_of_nothing() -> None:
    assert parse_scopes([]) == ()
    assert parse_scopes(["", "   "]) == ()


def test_parse_scopes_caps_the_count() -> None:
    parse_scopes([f"repository:r{i}:pull" for i in range(MAX_SCOPES)])
    with pytest.raises(HeaderError, match="more than"):
        parse_scopes([f"repository:r{i}:pull" for i in range(MAX_SCOPES + 1)])


def test_parse_scopes_refuses_one_bad_scope_among_good_ones() -> None:
    with pytest.raises(HeaderError):
        parse_scopes(["repository:a:pull", "repository:B:pull"])


# Oracle ----------------------------------------------------------------------------------------------

ALNUM = set("abcdefghijklmnopqrstuvwxyz0123456789")


def component_oracle(component: str) -> bool:
    """Lower-case alphanumeric runs joined by one separator each: '.', '_', '__' or any run of '-'."""
    runs: list[str] = []
    for character in component:
        kind = "alnum" if character in ALNUM else "separator"
        if runs and (runs[-1][0] in ALNUM) == (kind == "alnum"):
            runs[-1] += character
        else:
            runs.append(character)
    if not runs or runs[0][0] not in ALNUM or runs[-1][0] not in ALNUM:
        return False
    separators = runs[1::2]
    return all(run in (".", "_", "__") or set(run) == {"-"} for run in separators)


def type_oracle(text: str) -> bool:
    """``word`` or ``word(word)`` with lower-case alphanumeric words."""
    if text.endswith(")") and "(" in text:
        outer, inner = text[:-1].split("(", 1)
        return bool(outer) and bool(inner) and set(outer) <= ALNUM and set(inner) <= ALNUM
    return bool(text) and set(text) <= ALNUM


def scope_oracle(text: str) -> TokenScope | None:
    parts = text.split(":")
    if len(parts) != 3:
        return None
    kind, name, actions = parts
    if not type_oracle(kind) or not name or len(name) > 255:
        return None
    if not all(component_oracle(component) for component in name.split("/")):
        return None
    action_list = actions.split(",")
    if not all(a == "*" or (a and set(a) <= set("abcdefghijklmnopqrstuvwxyz")) for a in action_list):
        return None
    unique: list[str] = []
    for action in action_list:
        if action not in unique:
            unique.append(action)
    return TokenScope(kind, name, tuple(unique))


component = st.lists(st.text(alphabet="abz019", min_size=1, max_size=4), min_size=1, max_size=3).flatmap(
    lambda runs: st.lists(
        st.sampled_from([".", "_", "__", "-", "---"]), min_size=len(runs) - 1, max_size=len(runs) - 1
    ).map(lambda seps: "".join(run + (seps[i] if i < len(seps) else "") for i, run in enumerate(runs)))
)
scope_like = st.one_of(
    st.text(alphabet="ab09:._-/,*(P)pull", max_size=30),
    st.builds(
        lambda kind, name, actions: f"{kind}:{name}:{actions}",
        st.one_of(st.sampled_from(["repository", "registry", "repository(plugin)"]), st.text("ab(p)", max_size=8)),
        st.lists(st.one_of(component, st.text(alphabet="ab0._-", max_size=5)), min_size=1, max_size=3).map("/".join),
        st.lists(st.sampled_from(["pull", "push", "*", "", "PULL", "pu ll", "**"]), min_size=1, max_size=3).map(
            ",".join
        ),
    ),
)


@settings(max_examples=400)
@given(text=st.one_of(scope_like, st.text(max_size=30)))
def test_parse_scope_agrees_with_the_oracle(text: str) -> None:
    expected = scope_oracle(text)
    try:
        parsed = parse_scope(text)
    except HeaderError:
        assert expected is None, f"{text!r} should parse as {expected}"
        return
    assert parsed == expected


valid_scopes = st.builds(
    TokenScope,
    st.sampled_from(["repository", "registry", "repository(plugin)"]),
    st.lists(component, min_size=1, max_size=3).map("/".join),
    st.lists(st.sampled_from(["pull", "push", "delete", "*"]), min_size=1, max_size=3, unique=True).map(tuple),
)


@given(scope=valid_scopes)
def test_scope_string_round_trip(scope: TokenScope) -> None:
    assert parse_scope(str(scope)) == scope


@given(scopes=st.lists(valid_scopes, max_size=6), group=st.integers(min_value=1, max_value=3))
def test_parse_scopes_merges_like_a_dictionary_of_sets(scopes: list[TokenScope], group: int) -> None:
    values = [" ".join(str(s) for s in scopes[i : i + group]) for i in range(0, len(scopes), group)]
    merged = parse_scopes(values)
    expected: dict[tuple[str, str], list[str]] = {}
    for scope in scopes:
        actions = expected.setdefault((scope.resource_type, scope.name), [])
        actions.extend(a for a in scope.actions if a not in actions)
    assert {(s.resource_type, s.name): list(s.actions) for s in merged} == expected
    assert len(merged) == len(expected)


@settings(max_examples=300)
@given(values=st.lists(st.text(), max_size=4))
def test_parse_scopes_never_crashes(values: list[str]) -> None:
    try:
        scopes = parse_scopes(values)
    except HeaderError:
        return
    assert all(parse_scope(str(scope)) == scope for scope in scopes)
