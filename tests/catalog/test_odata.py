"""The plain OData v4 loader on real documents: Business Central API v2.0 and SAP CAP's output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import ForeignKey, Table
from d365conn.catalog.odata import ODataLoader, parse_csdl
from d365conn.exceptions import OperationalError
from tests.catalog.conftest import BC_METADATA, FixtureService, HttpFetcher

CAP_METADATA = Path(__file__).parent / "data" / "cap_bookshop_metadata.xml"


def load_all(document: str) -> dict[str, Table]:
    loader = ODataLoader(lambda _path: document)
    entries = loader.list_tables()
    index = {e.name.casefold(): e for e in entries}
    return {e.name: loader.load_table(e, index) for e in entries}


@pytest.fixture(scope="module")
def bc() -> dict[str, Table]:
    return load_all(BC_METADATA.read_text(encoding="utf-8"))


def test_bc_has_its_87_entity_sets(bc: dict[str, Table]) -> None:
    assert len(bc) == 87
    assert {
        "companies",
        "customers",
        "vendors",
        "items",
        "salesOrders",
        "salesOrderLines",
        "generalLedgerEntries",
        "entityDefinitions",
    } <= set(bc)


def test_bc_customer_columns(bc: dict[str, Table]) -> None:
    customers = bc["customers"]
    assert customers.entity_type == "Microsoft.NAV.customer" and customers.primary_key == ("id",)
    names = [c.name for c in customers.columns]
    assert names[:4] == ["id", "number", "displayName", "type"]
    key = customers.column("id")
    assert key is not None and key.edm_type == "Edm.Guid" and not key.nullable and key.primary_key
    display = customers.column("DISPLAYNAME")  # case-insensitive lookup
    assert display is not None and (display.max_length, display.nullable) == (100, False)
    kind = customers.column("type")
    assert (
        kind is not None and kind.edm_type == "Edm.String" and kind.enum_type == "Microsoft.NAV.contactType"
    )
    assert [(o.value, o.label) for o in kind.options] == [(0, "Company"), (1, "Person")]
    balance = customers.column("balanceDue")
    assert (
        balance is not None and balance.edm_type == "Edm.Decimal" and balance.scale is None
    )  # Scale="Variable"
    modified = customers.column("lastModifiedDateTime")
    assert modified is not None and modified.edm_type == "Edm.DateTimeOffset"
    # Navigation properties and stream properties are not columns.
    assert customers.column("currency") is None and customers.column("picture") is None


def test_bc_foreign_keys_from_referential_constraints(bc: dict[str, Table]) -> None:
    customers = bc["customers"]
    assert ForeignKey("currencyId", "currencies", "id", "currency") in customers.foreign_keys
    assert ForeignKey("paymentTermsId", "paymentTerms", "id", "paymentTerm") in customers.foreign_keys
    currency = customers.column("currencyId")
    assert currency is not None and currency.targets == ("currencies",)
    assert dict(currency.navigation) == {"currencies": "currency"}
    lines = bc["salesOrderLines"]
    assert any(fk.target_table == "items" and fk.column == "itemId" for fk in lines.foreign_keys)
    assert sum(len(t.foreign_keys) for t in bc.values()) > 150
    assert all(fk.target_table in bc for t in bc.values() for fk in t.foreign_keys)


def test_bc_capabilities_and_alternate_keys(bc: dict[str, Table]) -> None:
    companies = bc["companies"]
    assert (companies.insertable, companies.updatable, companies.deletable) == (False, False, False)
    customers = bc["customers"]
    assert (customers.insertable, customers.updatable, customers.deletable) == (True, True, True)
    subscriptions = bc["subscriptions"]
    assert not any(c.sortable for c in subscriptions.columns)  # SortRestrictions Sortable=false
    assert all(c.sortable for c in customers.columns)
    with_keys = {name: t.alternate_keys for name, t in bc.items() if t.alternate_keys}
    assert (("appId", "name"),) in with_keys.values()


def test_bc_enum_member_names_are_decoded(bc: dict[str, Table]) -> None:
    item_type = bc["items"].column("type")
    assert item_type is not None and [o.label for o in item_type.options] == [
        "Inventory",
        "Service",
        "Non-Inventory",
    ]


def test_bc_cold_parse_is_fast() -> None:
    document = BC_METADATA.read_text(encoding="utf-8")
    started = time.perf_counter()
    tables = load_all(document)
    elapsed = time.perf_counter() - started
    print(
        f"\nBC $metadata ({len(document) // 1024} KiB, {len(tables)} sets): parse + build all in "
        f"{elapsed * 1000:.1f} ms"
    )
    assert elapsed < 1.0


def test_bc_metadata_over_a_socket(fixture_service: FixtureService) -> None:
    fetcher = HttpFetcher(fixture_service.bc_url)
    loader = ODataLoader(fetcher.fetch_text, kind="businesscentral")
    entries = loader.list_tables()
    assert len(entries) == 87 and loader.kind == "businesscentral"
    first = loader.changes_since(None)
    assert first.stamp and first.tables is None
    again = loader.changes_since(first.stamp)
    assert again.tables == frozenset() and not again.list_changed
    assert fixture_service.count("$metadata") == 1  # fetched once per loader


def test_cap_service() -> None:
    tables = load_all(CAP_METADATA.read_text(encoding="utf-8"))
    assert set(tables) == {"Authors", "Books", "Items", "Books_texts"}
    books = tables["Books"]
    names = [c.name for c in books.columns]
    # Structured elements arrive flattened by CAP (kept); `many` elements are collections (left out).
    assert "address_street" in names and "tags" not in names and "pages" not in names
    assert ForeignKey("author_ID", "Authors", "ID", "author") in books.foreign_keys
    assert ForeignKey("ID", "Books_texts", "ID", "localized") in books.foreign_keys
    created = books.column("createdAt")
    assert created is not None and not created.insertable and not created.updatable and created.read_only
    modified = books.column("modifiedAt")
    assert modified is not None and modified.read_only
    isbn = books.column("isbn")
    assert isbn is not None and isbn.read_only  # @readonly element -> Core.Computed
    price = books.column("price")
    assert price is not None and (price.precision, price.scale) == (9, 2)
    assert (books.insertable, books.updatable, books.deletable) == (False, False, False)  # @readonly set
    items = tables["Items"]
    assert items.primary_key == ("order_no", "pos") and items.insertable and not items.updatable
    assert tables["Books_texts"].primary_key == ("locale", "ID")
    authors = tables["Authors"]
    name = authors.column("name")
    assert name is not None and not name.nullable and name.max_length == 111


GENERIC = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml">
    <edmx:Include Namespace="Org.OData.Core.V1" Alias="C"/>
  </edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="Example.Model" Alias="self" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <TypeDefinition Name="Money" UnderlyingType="Edm.Decimal" Precision="19" Scale="4"/>
      <EnumType Name="Color">
        <Member Name="Red"/><Member Name="Green"/><Member Name="Blue" Value="7"/>
      </EnumType>
      <ComplexType Name="Address"><Property Name="Street" Type="Edm.String"/></ComplexType>
      <EntityType Name="Base" Abstract="true">
        <Key><PropertyRef Name="Id"/></Key>
        <Property Name="Id" Type="Edm.Int64" Nullable="false"/>
        <Property Name="Stamp" Type="Edm.Binary"><Annotation Term="C.Computed" Bool="true"/></Property>
      </EntityType>
      <EntityType Name="Product" BaseType="self.Base">
        <Property Name="Name" Type="Edm.String" MaxLength="max"/>
        <Property Name="Price" Type="self.Money"/>
        <Property Name="Color" Type="self.Color"/>
        <Property Name="Where" Type="self.Address"/>
        <Property Name="Location" Type="Edm.GeographyPoint"/>
        <Property Name="Photo" Type="Edm.Stream"/>
        <Property Name="Made" Type="Edm.Date"/>
        <Property Name="SupplierId" Type="Edm.Int32"/>
        <NavigationProperty Name="Supplier" Type="self.Supplier">
          <ReferentialConstraint Property="SupplierId" ReferencedProperty="Code"/>
        </NavigationProperty>
      </EntityType>
      <EntityType Name="Supplier">
        <Key><PropertyRef Name="Code"/></Key>
        <Property Name="Code" Type="Edm.Int32" Nullable="false"/>
      </EntityType>
      <EntityContainer Name="Default">
        <EntitySet Name="Products" EntityType="self.Product">
          <NavigationPropertyBinding Path="Supplier" Target="Suppliers"/>
        </EntitySet>
        <EntitySet Name="Suppliers" EntityType="Example.Model.Supplier"/>
        <Singleton Name="Me" Type="self.Supplier"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"""


def test_generic_inheritance_aliases_and_type_definitions() -> None:
    tables = load_all(GENERIC)
    assert set(tables) == {"Products", "Suppliers"}  # a singleton is not a table
    products = tables["Products"]
    assert products.entity_type == "Example.Model.Product" and products.primary_key == ("Id",)
    assert [c.name for c in products.columns] == [
        "Id",
        "Stamp",
        "Name",
        "Price",
        "Color",
        "Made",
        "SupplierId",
    ]
    stamp = products.column("Stamp")
    assert stamp is not None and stamp.read_only and stamp.edm_type == "Edm.Binary"  # aliased Core term
    price = products.column("Price")
    assert price is not None and price.edm_type == "Edm.Decimal"
    assert (price.precision, price.scale) == (19, 4)  # the facets of the type definition
    color = products.column("Color")
    assert color is not None and [(o.label, o.value) for o in color.options] == [
        ("Red", 0),
        ("Green", 1),
        ("Blue", 7),
    ]
    name = products.column("Name")
    assert name is not None and name.max_length is None
    assert products.foreign_keys == (ForeignKey("SupplierId", "Suppliers", "Code", "Supplier"),)


def test_dtd_and_malformed_documents_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&lol2;</edmx:Edmx>'
    )
    with pytest.raises(OperationalError, match="DTD"):
        parse_csdl(bomb)
    with pytest.raises(OperationalError, match="not well-formed"):
        parse_csdl("<edmx:Edmx xmlns:edmx='x'><Schema>")


def test_list_entries_carry_single_keys() -> None:
    loader = ODataLoader(lambda _path: GENERIC)
    assert (
        TableEntry("Suppliers", "Suppliers", "Code", entity_type="Example.Model.Supplier")
        in loader.list_tables()
    )
