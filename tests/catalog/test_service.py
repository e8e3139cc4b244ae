"""Service kind detection and Business Central URL parsing, from the URL shapes Microsoft documents."""

from __future__ import annotations

import pytest

from d365conn.catalog.service import BCEndpoint, detect_service_kind, parse_bc_endpoint

BC = "https://api.businesscentral.dynamics.com/v2.0"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://contoso.crm.dynamics.com/api/data/v9.2/", "dataverse"),
        ("https://contoso.crm4.dynamics.com/api/data/v9.1", "dataverse"),
        ("http://127.0.0.1:8080/api/data/v9.0/", "dataverse"),
        ("https://contoso.api.crm.dynamics.com/API/DATA/V9.2/", "dataverse"),
        (f"{BC}/tenant/Production/ODataV4/", "businesscentral"),
        (f"{BC}/tenant/Production/api/v2.0/companies(1234)/customers", "businesscentral"),
        (f"{BC}/Sandbox/api/contoso/app1/v1.0/", "businesscentral"),
        ("http://bc-onprem:7048/BC240/ODataV4/Company('CRONUS')/", "businesscentral"),
        ("http://bc-onprem:7048/BC240/api/v2.0/", "businesscentral"),
        ("https://services.odata.org/V4/Northwind/Northwind.svc/", "odata"),
        ("http://localhost:4004/odata/v4/catalog/", "odata"),
        ("http://localhost:4004/api/data/", "odata"),
    ],
)
def test_detect_service_kind(url: str, kind: str) -> None:
    assert detect_service_kind(url) == kind


def test_bc_odatav4_with_company_in_path() -> None:
    ep = parse_bc_endpoint(f"{BC}/0b1d-tenant/Production/ODataV4/Company('CRONUS%20USA%2C%20Inc.')/Customer")
    assert ep == BCEndpoint(
        service_root=f"{BC}/0b1d-tenant/Production/ODataV4/",
        surface="odatav4",
        tenant="0b1d-tenant",
        environment="Production",
        company="CRONUS USA, Inc.",
        company_in="path",
    )


def test_bc_odatav4_company_with_quote_and_query_form() -> None:
    ep = parse_bc_endpoint(f"{BC}/t/Sandbox/ODataV4/Company('O''Brien%20Ltd')/")
    assert ep.company == "O'Brien Ltd"
    ep = parse_bc_endpoint(f"{BC}/t/Sandbox/ODataV4/Customer?company=CRONUS%20UK%20Ltd.")
    assert (ep.company, ep.company_in, ep.environment) == ("CRONUS UK Ltd.", "query", "Sandbox")


def test_bc_standard_api_with_company_id() -> None:
    ep = parse_bc_endpoint(
        f"{BC}/tenant-id/MyEnv/api/v2.0/companies(11111111-2222-3333-4444-555555555555)/items"
    )
    assert ep.surface == "api" and ep.api_version == "v2.0" and ep.api_publisher is None
    assert ep.service_root == f"{BC}/tenant-id/MyEnv/api/v2.0/"
    assert (ep.tenant, ep.environment) == ("tenant-id", "MyEnv")
    assert ep.company == "11111111-2222-3333-4444-555555555555" and ep.company_in == "path"


def test_bc_custom_api_route_and_no_tenant_segment() -> None:
    ep = parse_bc_endpoint(f"{BC}/Production/api/contoso/sales/v1.0/")
    assert (ep.api_publisher, ep.api_group, ep.api_version) == ("contoso", "sales", "v1.0")
    assert ep.tenant is None and ep.environment == "Production" and ep.company is None
    assert ep.service_root == f"{BC}/Production/api/contoso/sales/v1.0/"


def test_bc_on_premises() -> None:
    ep = parse_bc_endpoint("http://bc-onprem:7048/BC240/ODataV4/")
    assert not ep.online and ep.tenant is None and ep.service_root == "http://bc-onprem:7048/BC240/ODataV4/"


def test_not_bc() -> None:
    with pytest.raises(ValueError, match="not a Business Central URL"):
        parse_bc_endpoint("https://contoso.crm.dynamics.com/api/data/v9.2/")
