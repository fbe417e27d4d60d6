"""Which manifests of a repository are garbage when untagged manifests are collected: pure code.

A manifest is kept when it is tagged or younger than the grace period (a push by digest whose index
or tag has not arrived yet), or when a kept manifest reaches it: an index reaches its children, a
manifest reaches its referrers (manifests whose ``subject`` it is: a signature goes with its image)
and a referrer reaches its subject. Everything else is garbage, in groups that are connected among
themselves (an unkept index and its unkept children; an unkept image and its unkept referrers): a
group is deleted whole or not at all, after the collector checked in SQL that nothing outside it
reaches into it (``metadata.queries.gc.delete_manifest_group``).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence

from moorage.metadata.queries.gc import ManifestNode


def garbage_groups(
    nodes: Sequence[ManifestNode], edges: Iterable[tuple[int, str]], *, keep_after_ms: int
) -> list[list[int]]:
    """The repository's garbage manifests (``nodes``; ``edges`` are (index id, child digest)) as
    groups of ids, each sorted, groups in order of their smallest id."""
    by_digest = {node.digest: node.id for node in nodes}
    subject_of = {node.id: by_digest.get(node.subject) for node in nodes if node.subject is not None}
    children: dict[int, list[int]] = defaultdict(list)
    for parent, child_digest in edges:
        child = by_digest.get(child_digest)
        if child is not None:
            children[parent].append(child)
    referrers: dict[int, list[int]] = defaultdict(list)
    for node_id, subject in subject_of.items():
        if subject is not None:
            referrers[subject].append(node_id)

    kept = {node.id for node in nodes if node.tagged or node.created_at >= keep_after_ms}
    queue = deque(kept)
    while queue:
        node_id = queue.popleft()
        subject = subject_of.get(node_id)
        for reached in (*children.get(node_id, ()), *referrers.get(node_id, ()), *((subject,) if subject else ())):
            if reached not in kept:
                kept.add(reached)
                queue.append(reached)

    garbage = {node.id for node in nodes} - kept
    neighbours: dict[int, set[int]] = defaultdict(set)
    for parent, kids in children.items():
        for child in kids:
            if parent in garbage and child in garbage:
                neighbours[parent].add(child)
                neighbours[child].add(parent)
    for node_id, subject in subject_of.items():
        if subject is not None and node_id in garbage and subject in garbage:
            neighbours[node_id].add(subject)
            neighbours[subject].add(node_id)
    groups: list[list[int]] = []
    seen: set[int] = set()
    for start in sorted(garbage):
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            current = stack.pop()
            group.append(current)
            for other in neighbours.get(current, ()):
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        groups.append(sorted(group))
    return groups
