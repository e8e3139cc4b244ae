"""Company scoping (d365conn/bc/company.py, d365conn/bc/session.py): pure rules, then end to end."""

from __future__ import annotations

import uuid

import pytest

import d365conn
from d365conn.bc.company import Company, choose_company, companies_from_rows, company_prefix, scope_plan
from d365conn.planner.plan import ODataQuery, Plan, Prerequisite, ResultColumn, Scan
from d365conn.sandbox.bc import BCSandbox
from tests.bc.conftest import INTERNATIONAL, USA

COMPANIES = [
    Company("3ab5c248-e72b-f011-9a4a-7c1e5275406f", "Rebel", "Rebel Sp. z o.o."),
    Company("e802e7d1-5408-f011-9afa-6045bdabb318", "My Company", ""),
]


# -- choosing ---------------------------------------------------------------------------------------


def test_companies_are_read_from_either_surface() -> None:
    api = companies_from_rows(
        [{"id": "3AB5C248-E72B-F011-9A4A-7C1E5275406F", "name": "Rebel", "displayName": "R"}]
    )
    pages = companies_from_rows(
        [{"Id": "3ab5c248-e72b-f011-9a4a-7c1e5275406f", "Name": "Rebel", "Display_Name": "R"}]
    )
    assert api == pages == [Company("3ab5c248-e72b-f011-9a4a-7c1e5275406f", "Rebel", "R")]


@pytest.mark.parametrize(
    ("wanted", "name"),
    [
        ("Rebel", "Rebel"),
        ("rebel", "Rebel"),  # case-insensitive when unambiguous
        ("Rebel Sp. z o.o.", "Rebel"),  # by display name
        ("E802E7D1-5408-F011-9AFA-6045BDABB318", "My Company"),  # by id, any case
        ("{e802e7d1-5408-f011-9afa-6045bdabb318}", "My Company"),
    ],
)
def test_a_company_is_chosen_by_name_display_name_or_id(wanted: str, name: str) -> None:
    assert choose_company(COMPANIES, wanted).name == name


def test_an_unknown_company_lists_the_available_ones() -> None:
    with pytest.raises(d365conn.ProgrammingError) as caught:
        choose_company(COMPANIES, "Cronus")
    text = str(caught.value)
    assert "'Cronus'" in text and "'Rebel' (Rebel Sp. z o.o.) id 3ab5c248" in text and "'My Company'" in text


def test_no_company_is_an_error_listing_them_unless_there_is_only_one() -> None:
    with pytest.raises(d365conn.ProgrammingError, match=r"2 companies; choose one with Company="):
        choose_company(COMPANIES, None)
    assert choose_company(COMPANIES[:1], None).name == "Rebel"


def test_company_prefixes_of_both_surfaces() -> None:
    assert company_prefix(COMPANIES[0], "api") == "companies(3ab5c248-e72b-f011-9a4a-7c1e5275406f)/"
    tricky = Company("0" * 8 + "-0000-0000-0000-" + "0" * 12, "O'Neil & Sons, Inc.")
    assert company_prefix(tricky, "odatav4") == "Company('O%27%27Neil%20%26%20Sons%2C%20Inc.')/"


def _scan(table: str, resource: str) -> Scan:
    return Scan(table, table, ODataQuery(resource, select=("id",)), (), limit=None)


def test_scope_plan_prefixes_every_scan_but_the_company_list() -> None:
    inner = Plan(scans=(_scan("customers", "customers"),), columns=(ResultColumn("id", "Edm.Guid"),))
    plan = Plan(
        scans=(_scan("salesOrders", "salesOrders/$count"), _scan("companies", "companies")),
        columns=(ResultColumn("n", "Edm.Int64"),),
        prerequisites=(Prerequisite("@p", inner, "Edm.Guid", overflow=inner),),
        fallback=inner,
    )
    scoped = scope_plan(plan, "companies(1)/", "companies")
    assert [s.query.resource for s in scoped.scans] == ["companies(1)/salesOrders/$count", "companies"]
    assert scoped.prerequisites[0].plan.scans[0].query.resource == "companies(1)/customers"
    assert scoped.prerequisites[0].overflow is not None
    assert scoped.prerequisites[0].overflow.scans[0].query.resource == "companies(1)/customers"
    assert scoped.fallback is not None and scoped.fallback.scans[0].query.resource == "companies(1)/customers"
    assert plan.scans[0].query.resource == "salesOrders/$count"  # the cached plan is left as it was


# -- end to end ----------------------------------------------------------------------------------------


def _rows(connection: d365conn.Connection, sql: str) -> list[tuple[object, ...]]:
    cursor = connection.cursor()
    cursor.execute(sql)
    return [tuple(r) for r in cursor.fetchall()]


def test_companies_work_without_a_company_and_other_tables_explain_why_not(bc_sandbox: BCSandbox) -> None:
    with d365conn.connect(bc_sandbox.connection_string) as connection:
        names = _rows(connection, "SELECT name FROM companies ORDER BY name")
        assert names == [(INTERNATIONAL,), (USA,), ("My Company",)]
        with pytest.raises(d365conn.ProgrammingError) as caught:
            _rows(connection, "SELECT number FROM customers")
        assert (
            "3 companies" in str(caught.value)
            and USA in str(caught.value)
            and "Company=" in str(caught.value)
        )
        with pytest.raises(d365conn.ProgrammingError, match="choose one"):
            _ = connection.company  # resolving it is the same error


def test_switching_company_without_reconnecting(bc_sandbox: BCSandbox) -> None:
    with d365conn.connect(bc_sandbox.connection_string) as connection:
        connection.company = USA
        usa = _rows(connection, "SELECT COUNT(*) FROM customers")[0][0]
        connection.company = bc_sandbox.company_ids()[INTERNATIONAL]  # by id this time
        assert connection.company == INTERNATIONAL
        international = _rows(connection, "SELECT COUNT(*) FROM customers")[0][0]
        connection.company = "my company"
        empty = _rows(connection, "SELECT COUNT(*) FROM customers")[0][0]
    assert (usa, international, empty) == (300, 75, 0)


def test_an_unknown_company_fails_at_once_and_keeps_the_current_one(fresh: d365conn.Connection) -> None:
    before = _rows(fresh, "SELECT COUNT(*) FROM customers")
    with pytest.raises(d365conn.ProgrammingError, match=r"no company 'Nope'.*available companies"):
        fresh.company = "Nope"
    assert fresh.company == USA and _rows(fresh, "SELECT COUNT(*) FROM customers") == before


def test_the_company_may_come_from_the_service_url(bc_sandbox: BCSandbox, usa_id: str) -> None:
    url = f"{bc_sandbox.service_url}companies({usa_id})/"
    with d365conn.connect(bc_sandbox.connection_string_for(url)) as connection:
        assert connection.company == USA
        assert _rows(connection, "SELECT COUNT(*) FROM customers") == [(300,)]
        # companies still lists every company: it is read at the surface root, not below the company
        assert len(_rows(connection, "SELECT id FROM companies")) == 3


def test_odatav4_pages_are_scoped_by_company_name(bc_sandbox: BCSandbox) -> None:
    url = bc_sandbox.odata_url + "?company=" + USA.replace(" ", "%20").replace(",", "%2C")
    with d365conn.connect(bc_sandbox.connection_string_for(url)) as connection:
        plan = [r[0] for r in _rows(connection, "EXPLAIN SELECT No FROM Customer WHERE City = 'Miami'")]
        assert "ODataV4/Company('CRONUS%20USA%2C%20Inc.')/Customer?" in plan[0]
        miami = _rows(connection, "SELECT No, Name FROM Customer WHERE City = 'Miami' ORDER BY No")
        # ``companies`` names the Company page on this surface
        listed = _rows(connection, "SELECT Name, Id FROM companies")
    with d365conn.connect(bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA)) as api:
        same = _rows(api, "SELECT number, displayName FROM customers WHERE city = 'Miami' ORDER BY number")
    assert miami == same and miami
    assert {(n, str(i)) for n, i in listed} == {(n, i) for n, i in bc_sandbox.company_ids().items()}
    assert all(isinstance(i, uuid.UUID) for _, i in listed)


BC = "https://api.businesscentral.dynamics.com/v2.0/t1/"


@pytest.mark.parametrize(
    ("url", "root", "company"),
    [
        (BC + "Production/api/v2.0/", BC + "Production/api/v2.0/", None),
        (
            BC + "Production/api/v2.0/companies(3ab5c248-e72b-f011-9a4a-7c1e5275406f)/",
            BC + "Production/api/v2.0/",
            "3ab5c248-e72b-f011-9a4a-7c1e5275406f",
        ),
        (
            BC + "Sandbox/ODataV4/Company('CRONUS%20USA%2C%20Inc.')/",
            BC + "Sandbox/ODataV4/",
            "CRONUS USA, Inc.",
        ),
        (BC + "Sandbox/ODataV4/?company=My%20Company", BC + "Sandbox/ODataV4/", "My Company"),
        (BC + "Production/api/contoso/app/v1.0/", BC + "Production/api/contoso/app/v1.0/", None),
    ],
)
def test_the_config_is_cut_back_to_the_surface_root(url: str, root: str, company: str | None) -> None:
    from d365conn.bc.session import normalise_config
    from d365conn.config import build_config

    config, endpoint = normalise_config(build_config(ServiceURL=url))
    assert (config.service_root, config.company, endpoint.tenant) == (root, company, "t1")
    # An explicit Company= wins over the URL's
    assert normalise_config(build_config(ServiceURL=url, Company="Other"))[0].company == "Other"


def test_other_services_have_no_company() -> None:
    string = (
        "ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;ClientID=x;ClientSecret=y;"
        "TokenURI=https://login.microsoftonline.com/t/oauth2/v2.0/token;"
    )
    with d365conn.connect(string) as connection:  # nothing is sent: the service is created lazily, offline
        assert connection.company is None
        with pytest.raises(d365conn.NotSupportedError, match="Business Central"):
            connection.company = "CRONUS USA, Inc."


def test_a_business_central_url_without_a_surface_is_a_configuration_error() -> None:
    from d365conn.bc.session import normalise_config
    from d365conn.config import build_config

    with pytest.raises(d365conn.exceptions.ConfigurationError, match="ODataV4"):
        normalise_config(build_config(ServiceURL="https://api.businesscentral.dynamics.com/v2.0/t1/Production/"))
