"""Bodies and answers of the resource tag operations (CreateInstanceResourceTags,
DeleteInstanceResourceTags, ListInstanceResourceTags, ListInstanceProjectTags, ListNamespaceTags,
ListInstanceResourceInstances, ShowInstanceResourceInstancesCount and the sub-resource forms), field
for field as ``huaweicloudsdkswr`` names them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moorage.api.response_model import ResponseModel
from moorage.domain.resource_tags import (
    MAX_FILTER_KEYS,
    MAX_FILTER_VALUES,
    MAX_TAGS_PER_RESOURCE,
    ResourceTag,
    TaggedResource,
)


class TagBody(BaseModel):
    """``ResourceTag`` in a request (lengths are checked exactly by the service; these bound the body)."""

    model_config = ConfigDict(extra="ignore")
    key: str = Field(max_length=512)
    value: str = Field(default="", max_length=1024)


class TagsBody(BaseModel):
    """``CreateResourceTagsRequestBody`` / ``DeleteResourceTagsRequestBody``."""

    model_config = ConfigDict(extra="ignore")
    tags: list[TagBody] = Field(max_length=MAX_TAGS_PER_RESOURCE * 5)

    def pairs(self) -> list[tuple[str, str]]:
        """(key, value) of each tag."""
        return [(t.key, t.value) for t in self.tags]


class TagFilterBody(BaseModel):
    """``TagsFilter``."""

    model_config = ConfigDict(extra="ignore")
    key: str = Field(max_length=512)
    values: list[str] = Field(max_length=MAX_FILTER_VALUES * 5)


class FilterBody(BaseModel):
    """``ListResourceInstancesRequestBody`` (no ``tags``: every resource)."""

    model_config = ConfigDict(extra="ignore")
    tags: list[TagFilterBody] = Field(default_factory=list, max_length=MAX_FILTER_KEYS * 2)

    def filters(self) -> list[tuple[str, list[str]]]:
        """(key, values) of each filter."""
        return [(f.key, f.values) for f in self.tags]


class ResourceTagView(ResponseModel):
    """``ResourceTag``."""

    key: str
    value: str


class ResourceTagList(ResponseModel):
    """``ListInstanceResourceTagsResponse`` / ``ListSubResourceTagsResponse``."""

    tags: list[ResourceTagView]

    @classmethod
    def of(cls, tags: list[ResourceTag]) -> ResourceTagList:
        """The view of a resource's tags."""
        return cls(tags=[ResourceTagView(key=t.key, value=t.value) for t in tags])


class ProjectTagView(ResponseModel):
    """``ProjectTag``: a key and every value it has."""

    key: str
    values: list[str]


class ProjectTagList(ResponseModel):
    """``ListInstanceProjectTagsResponse`` / ``ListNamespaceTagsResponse``."""

    tags: list[ProjectTagView]

    @classmethod
    def of(cls, summary: dict[str, list[str]]) -> ProjectTagList:
        """The view of a key -> values summary."""
        return cls(tags=[ProjectTagView(key=k, values=v) for k, v in summary.items()])


class ResourceView(ResponseModel):
    """``Resource``: ``sys_tags`` (the enterprise project of op_service callers) stays empty."""

    resource_id: str
    resource_detail: dict[str, Any]
    resource_name: str
    tags: list[ResourceTagView]
    sys_tags: list[ResourceTagView]

    @classmethod
    def of(cls, found: TaggedResource) -> ResourceView:
        """The view of a found resource."""
        return cls(
            resource_id=found.id,
            resource_detail={},
            resource_name=found.name,
            tags=[ResourceTagView(key=t.key, value=t.value) for t in found.tags],
            sys_tags=[],
        )


class ResourceList(ResponseModel):
    """``ListInstanceResourceInstancesResponse`` / ``ListSubResourceInstancesResponse``."""

    resources: list[ResourceView]
    total_count: int


class ResourceCount(ResponseModel):
    """``ShowInstanceResourceInstancesCountResponse`` / ``ShowSubResourceInstancesCountResponse``."""

    total_count: int
