"""Image vulnerability whitelists (``/v5/{project_id}/image/whitelists``: add, list, show, change,
delete), sensitive information: its account-wide list (``/image/sensitive-information``),
ignoring a finding and the file-path allowlists (``/image/sensitive/...``), and the account's
extended weak passwords (``/image/baseline/extended-weak-password``). Changes need the domain
administrator."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.hss import account_schemas as ac
from moorage.api.hss import detail_schemas as d
from moorage.api.hss.fields import Paged, Short, Text
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import ACCOUNT, ADMIN, access_rules
from moorage.api.swr.wire import refuse_nul_characters
from moorage.domain.errors import Invalid, NotFound, NotServed
from moorage.domain.security import IMAGE_TYPES
from moorage.domain.security_handling import WhitelistScope, WhitelistView
from moorage.services.security.detail_vocabulary import choice
from moorage.services.security.image_details import DEFAULT_SENSITIVE_PATHS

router = APIRouter(
    tags=["HSS whitelists"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

WHITELISTS = "/v5/{project_id}/image/whitelists"
WHITELIST = "/v5/{project_id}/image/whitelists/{id}"
SENSITIVE_OPERATE = "/v5/{project_id}/image/sensitive/operate"
SENSITIVE_LIST = "/v5/{project_id}/image/sensitive-information"
PATHS = "/v5/{project_id}/image/sensitive/filepath-whitelist"
PATHS_DETAIL = "/v5/{project_id}/image/sensitive/filepath_whitelist"
WEAK_PASSWORDS_PATH = "/v5/{project_id}/image/baseline/extended-weak-password"
ACCESS_RULES = access_rules(
    {
        ("POST", WHITELISTS): ADMIN,
        ("GET", WHITELISTS): ACCOUNT,
        ("DELETE", WHITELISTS): ADMIN,
        ("GET", WHITELIST): ACCOUNT,
        ("PUT", WHITELIST): ADMIN,
        ("POST", SENSITIVE_OPERATE): ADMIN,
        ("GET", SENSITIVE_LIST): ACCOUNT,
        ("POST", PATHS): ADMIN,
        ("GET", PATHS): ACCOUNT,
        ("POST", PATHS_DETAIL): ADMIN,
        ("GET", PATHS_DETAIL): ACCOUNT,
        ("POST", WEAK_PASSWORDS_PATH): ADMIN,
        ("GET", WEAK_PASSWORDS_PATH): ACCOUNT,
    }
)


def _on_hosts(global_image_type: str | None, type_: str | None) -> bool:
    """Whether the request is about the whitelists of images on hosts (``global_image_type=local``),
    which moorage does not have: reads find nothing there, changes are not applicable."""
    choice("type", type_, ("vulnerability",))
    return choice("global_image_type", global_image_type, ("registry", "local")) == "local"


def _registry_only(global_image_type: str | None, type_: str | None) -> None:
    if _on_hosts(global_image_type, type_):
        raise NotServed(
            "whitelists of images on hosts (global_image_type=local) do not apply to moorage, a registry",
            reason="not_applicable",
        )


def _scope(
    rule_type: str, query_info: ac.WhitelistQueryInfo | None, image_info: list[ac.WhitelistImageRef] | None
) -> WhitelistScope:
    types = tuple(t.strip() for t in (query_info.image_type if query_info else "").split(",") if t.strip())
    rows = []
    for image in image_info or ():
        if image.id is None:
            raise Invalid("image_info needs the id of each image (the image lists' id)")
        rows.append(image.id)
    return WhitelistScope(rule_type=rule_type, image_types=types, row_ids=tuple(rows))


def _detail(view: WhitelistView) -> ac.WhitelistDetail:
    w = view.whitelist
    return ac.WhitelistDetail(
        id=w.id,
        vul_id=w.vul_id,
        vul_name=view.facts.title,
        vul_type=w.vul_type,
        cves=[ac.WhitelistCve(cve_id=c.cve_id, cvss=c.cvss_score) for c in view.facts.cves],
        rule_type=view.rule_type,
        query_info=ac.WhitelistQueryInfoOut(image_type=",".join(w.image_types)),
        image_info=[ac.WhitelistImageInfo(id=r.id, image_id=r.image_id, image_name=r.image_name) for r in view.images],
        description=w.description,
    )


@router.post(WHITELISTS, response_model=ac.Empty)
async def add_image_white_lists(
    project_id: str,
    body: ac.AddWhitelistsBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    global_image_type: Short = None,
    type: Short = None,
) -> ac.Empty:
    """Whitelist vulnerability ids (one whitelist each) in every image, images of some types, or chosen images."""
    _registry_only(global_image_type, type)
    await services.security.whitelists.add(
        principal,
        vul_type=body.vul_type,
        vul_ids=body.vul_ids,
        scope=_scope(body.rule_type, body.query_info, body.image_info),
        description=body.description,
    )
    return ac.Empty()


@router.get(WHITELISTS, response_model=ac.WhitelistList)
async def list_image_white_lists(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    global_image_type: Short = None,
    type: Short = None,
    vul_name: Text = None,
    vul_type: Short = None,
) -> ac.WhitelistList:
    """The account's whitelists, oldest first (none of images on hosts)."""
    if _on_hosts(global_image_type, type):
        return ac.WhitelistList(total_num=0, data_list=[])
    found = await services.security.whitelists.list(principal, vul_name=vul_name or None, vul_type=vul_type or None)
    return ac.WhitelistList(total_num=len(found), data_list=[_detail(v) for v in paging.of(found)])


@router.delete(WHITELISTS, response_model=ac.Empty)
async def delete_image_white_lists(
    project_id: str,
    body: ac.DeleteWhitelistsBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    global_image_type: Short = None,
    type: Short = None,
) -> ac.Empty:
    """Remove whitelists (ids that do not exist are ignored)."""
    _registry_only(global_image_type, type)
    await services.security.whitelists.delete(principal, [i[:64] for i in body.ids])
    return ac.Empty()


@router.get(WHITELIST, response_model=ac.WhitelistDetail)
async def show_image_white_list_detail(
    project_id: str,
    id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    global_image_type: Short = None,
    type: Short = None,
) -> ac.WhitelistDetail:
    """One whitelist (none of images on hosts)."""
    if _on_hosts(global_image_type, type):
        raise NotFound(f"whitelist {id[:64]!r} not found", reason="whitelist_not_found")
    return _detail(await services.security.whitelists.show(principal, id[:64]))


@router.put(WHITELIST, response_model=ac.Empty)
async def change_image_white_list(
    project_id: str,
    id: str,
    body: ac.ChangeWhitelistBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    global_image_type: Short = None,
    type: Short = None,
) -> ac.Empty:
    """Change where a whitelist applies, and its description."""
    _registry_only(global_image_type, type)
    await services.security.whitelists.change(
        principal, id[:64], scope=_scope(body.rule_type, body.query_info, body.image_info), description=body.description
    )
    return ac.Empty()


@router.post(SENSITIVE_OPERATE, response_model=ac.Empty)
async def change_sensitive_info(
    project_id: str,
    body: ac.SensitiveOperateBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    image_type: Short = None,
) -> ac.Empty:
    """Ignore a sensitive-information finding in every image of the account (``ignore``), or stop
    (``do_not_ignore``)."""
    await services.security.settings.operate_sensitive(principal, body.sensitive_info_id, body.operate_type)
    return ac.Empty()


@router.get(SENSITIVE_LIST, response_model=d.ImageSensitiveList)
async def list_image_sensitive_info(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    paging: Paged,
    image_type: Short = None,
) -> d.ImageSensitiveList:
    """Sensitive information over every image of the account, the most severe first."""
    found = await services.security.settings.sensitive(
        principal, image_type=image_type if image_type in IMAGE_TYPES else None
    )
    return d.ImageSensitiveList(
        total_num=len(found), data_list=[d.ImageSensitiveInfo(**asdict(i)) for i in paging.of(found)]
    )


# ShowFilePathWhiteLists and ShowFilePathWhiteDetail (and their Change twins) are one operation under two
# SDK paths: one handler serves both, ``name`` keeps each route's own operation name.
@router.get(PATHS, response_model=ac.FilePaths)
@router.get(PATHS_DETAIL, response_model=ac.FilePaths, name="show_file_path_white_detail")
async def show_file_path_white_lists(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
    file_path: Text = None,
) -> ac.FilePaths:
    """Paths the sensitive-information results leave out: the scanner's fixed ones and the account's."""
    customized = await services.security.settings.path_allowlist(principal)
    wanted = (file_path or "").lower()
    return ac.FilePaths(
        default_path=[p for p in DEFAULT_SENSITIVE_PATHS if wanted in p.lower()],
        customized_path=[p for p in customized if wanted in p.lower()],
    )


@router.post(PATHS, response_model=ac.Empty)
@router.post(PATHS_DETAIL, response_model=ac.Empty, name="change_file_path_white_detail")
async def change_file_path_white_lists(
    project_id: str,
    body: ac.FilePathsBody,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> ac.Empty:
    """Replace the account's allowlisted paths (absolute paths, directories or globs)."""
    await services.security.settings.set_path_allowlist(principal, body.customized_path)
    return ac.Empty()


@router.get(WEAK_PASSWORDS_PATH, response_model=ac.WeakPasswords)
async def show_extended_weak_password(
    project_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    enterprise_project_id: Text = None,
) -> ac.WeakPasswords:
    """The account's extended weak passwords."""
    return ac.WeakPasswords(extended_weak_password=await services.security.settings.weak_passwords(principal))


@router.post(WEAK_PASSWORDS_PATH, response_model=ac.Empty)
async def change_extended_weak_password(
    project_id: str,
    body: ac.WeakPasswordsBody,
    principal: PrincipalDep,
    services: ServicesDep,
) -> ac.Empty:
    """Replace them (tried against the images' password hashes when weak-password users are listed)."""
    await services.security.settings.set_weak_passwords(principal, body.extended_weak_password)
    return ac.Empty()
