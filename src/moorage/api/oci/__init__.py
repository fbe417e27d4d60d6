"""The OCI distribution API (``/v2/...``): plain Starlette handlers on the hot path, one module per
resource, dispatched by ``routing.OciRoute``."""

from moorage.api.access import AUTHENTICATED, DELETE, PULL, PUSH, Access
from moorage.api.oci import blobs, listing, manifests, uploads
from moorage.api.oci.routing import OciEndpoint, OciRoute, repository_access


def _catalog_access(*_: object) -> list[Access]:
    return [Access("registry", "catalog", ("*",))]


def _authenticated(*_: object) -> list[Access]:
    return [AUTHENTICATED]


def oci_route() -> OciRoute:
    """The route serving the whole OCI API, with the access rule of each endpoint."""
    pull, push, delete = repository_access(PULL), repository_access(PULL, PUSH), repository_access(DELETE)
    return OciRoute(
        [
            OciEndpoint("base", "GET", listing.base, _authenticated),
            OciEndpoint("catalog", "GET", listing.catalog, _catalog_access),
            OciEndpoint("tags", "GET", listing.tags_list, pull),
            OciEndpoint("referrers", "GET", listing.referrers, pull),
            OciEndpoint("blob", "HEAD", blobs.head_blob, pull),
            OciEndpoint("blob", "GET", blobs.get_blob, pull),
            OciEndpoint("blob", "DELETE", blobs.delete_blob, delete),
            OciEndpoint("uploads", "POST", uploads.start_upload, push),
            OciEndpoint("upload", "PATCH", uploads.patch_upload, push),
            OciEndpoint("upload", "PUT", uploads.finish_upload, push),
            # Where an upload stands is a read, as in distribution: a client that caches one token for its
            # reads and one for its writes (the spec's conformance suite does) asks with its pull token.
            OciEndpoint("upload", "GET", uploads.get_upload, pull),
            OciEndpoint("upload", "DELETE", uploads.cancel_upload, push),
            OciEndpoint("manifest", "GET", manifests.get_manifest, pull),
            OciEndpoint("manifest", "HEAD", manifests.get_manifest, pull),
            OciEndpoint("manifest", "PUT", manifests.put_manifest, push),
            OciEndpoint("manifest", "DELETE", manifests.delete_manifest, delete),
        ]
    )
