"""Deterministic data for the Business Central sandbox.

Owns: filling a :class:`~d365conn.sandbox.bc.store.Store` from a seed: three companies (two with
data, one empty, as a fresh tenant's "My Company" is), and in each company with data: G/L
accounts, customers, vendors, items, sales orders with 1-4 lines each (order totals are the sums
of their lines), and general ledger entries. Every other entity set of the API is empty but
queryable. The same seed always gives the same rows, ids and etags.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from d365conn.sandbox.bc.schema import api_schema
from d365conn.sandbox.bc.store import Row, Store, blank_row

#: (name, displayName, share of the generated rows)
COMPANIES = (
    ("CRONUS USA, Inc.", "CRONUS USA, Inc.", 1.0),
    ("CRONUS International Ltd.", "CRONUS International Ltd.", 0.25),
    ("My Company", "", 0.0),
)

_FIRST = (
    "Adatum",
    "Alpine",
    "Trey",
    "Fabrikam",
    "Coho",
    "Relecloud",
    "Litware",
    "Northwind",
    "Contoso",
    "Wide World",
    "Tailspin",
    "Proseware",
    "Lucerne",
    "Margie's",
    "O'Brien",
)
_SECOND = (
    "Corporation",
    "Ski House",
    "Research",
    "Inc.",
    "Winery",
    "Travel",
    "Importers",
    "Toys",
    "Ltd.",
    "Publishing",
    "Foods",
    "Traders",
)
_CITIES = (
    ("Atlanta", "US", "GA"),
    ("Chicago", "US", "IL"),
    ("Miami", "US", "FL"),
    ("London", "GB", ""),
    ("Gdańsk", "PL", ""),
    ("Zürich", "CH", ""),
    ("Seattle", "US", "WA"),
    ("Toronto", "CA", "ON"),
)
_PRODUCTS = (
    "Bicycle",
    "Front Hub",
    "Rear Wheel",
    "Saddle",
    "Chain",
    "Handlebar",
    "Pedal",
    "Helmet",
    "Bell",
    "Lamp",
    "Tire",
    "Spoke",
)
_ACCOUNTS = (
    ("10100", "Checking account"),
    ("12100", "Accounts receivable"),
    ("20100", "Accounts payable"),
    ("40100", "Sales, retail"),
    ("50100", "Cost of goods sold"),
    ("60100", "Salaries"),
)


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _stamp(day: date, rng: random.Random) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(
        seconds=rng.randint(0, 86_399), milliseconds=rng.randint(0, 999)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_BLANKS: dict[str, Row] = {}


def _row(set_name: str, values: Row) -> Row:
    blank = _BLANKS.get(set_name)
    if blank is None:
        blank = _BLANKS[set_name] = blank_row(api_schema().sets[set_name])
    return {**blank, **values}


def load(store: Store, *, rows: int = 200, ledger_rows: int = 2_000, seed: int = 1) -> None:
    """Fill ``store``: ``rows`` customers and sales orders, ``ledger_rows`` G/L entries (first company)."""
    rng = random.Random(seed)  # noqa: S311 - generated test data, not security
    for i, (name, display, share) in enumerate(COMPANIES):
        company_id = _guid(rng)
        store.add_company(
            _row(
                "companies",
                {
                    "id": company_id,
                    "systemVersion": "26.0.30643.32100",
                    "timestamp": 4006 + i * 1000,
                    "name": name,
                    "displayName": display,
                    "businessProfileId": "",
                    "systemCreatedAt": "2025-03-24T02:08:05.067Z",
                    "systemCreatedBy": "00000000-0000-0000-0000-000000000001",
                    "systemModifiedAt": "2025-03-24T02:08:05.067Z",
                    "systemModifiedBy": "00000000-0000-0000-0000-000000000001",
                },
            )
        )
        if share:
            _fill(store, company_id, rng, max(1, int(rows * share)), max(1, int(ledger_rows * share)))


def _fill(store: Store, company: str, rng: random.Random, rows: int, ledger_rows: int) -> None:
    start = date(2025, 1, 1)
    accounts = []
    for number, title in _ACCOUNTS:
        accounts.append(
            store.insert(
                company,
                "accounts",
                _row(
                    "accounts",
                    {
                        "id": _guid(rng),
                        "number": number,
                        "displayName": title,
                        "category": "Assets",
                        "accountType": "Posting",
                        "directPosting": True,
                        "lastModifiedDateTime": _stamp(start, rng),
                    },
                ),
            )
        )
    customers = []
    for i in range(rows):
        city, country, state = rng.choice(_CITIES)
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)}"
        customers.append(
            store.insert(
                company,
                "customers",
                _row(
                    "customers",
                    {
                        "id": _guid(rng),
                        "number": f"C{10000 + i * 10}",
                        "displayName": name,
                        "type": "Company" if rng.random() < 0.8 else "Person",
                        "addressLine1": f"{rng.randint(1, 999)} Main Street",
                        "city": city,
                        "state": state,
                        "country": country,
                        "postalCode": f"{rng.randint(10000, 99999)}",
                        "phoneNumber": "" if rng.random() < 0.2 else f"+1 555 {rng.randint(1000, 9999)}",
                        "email": f"info{i}@{name.split(maxsplit=1)[0].lower().replace(chr(39), '')}.example",
                        "salespersonCode": rng.choice(("JR", "PS", "BC", "")),
                        "balanceDue": _money(rng, 0, 50_000),
                        "creditLimit": Decimal(rng.choice((0, 1000, 5000, 20000))),
                        "taxLiable": rng.random() < 0.5,
                        "currencyCode": rng.choice(("", "", "EUR", "GBP")),
                        "blocked": rng.choice(("_x0020_", "_x0020_", "_x0020_", "Ship", "All")),
                        "lastModifiedDateTime": _stamp(start + timedelta(days=rng.randint(0, 300)), rng),
                    },
                ),
            )
        )
    for i in range(max(1, rows // 2)):
        city, country, state = rng.choice(_CITIES)
        store.insert(
            company,
            "vendors",
            _row(
                "vendors",
                {
                    "id": _guid(rng),
                    "number": f"V{20000 + i * 10}",
                    "displayName": f"{rng.choice(_FIRST)} Supplies",
                    "city": city,
                    "state": state,
                    "country": country,
                    "balance": _money(rng, 0, 30_000),
                    "blocked": rng.choice(("_x0020_", "_x0020_", "Payment")),
                    "taxLiable": rng.random() < 0.3,
                    "lastModifiedDateTime": _stamp(start + timedelta(days=rng.randint(0, 300)), rng),
                },
            ),
        )
    items = []
    for i in range(max(4, rows // 2)):
        price = _money(rng, 5, 2_000)
        items.append(
            store.insert(
                company,
                "items",
                _row(
                    "items",
                    {
                        "id": _guid(rng),
                        "number": f"{1000 + i}",
                        "displayName": f"{rng.choice(_PRODUCTS)} {i}",
                        "type": rng.choice(("Inventory", "Inventory", "Service", "Non_x002D_Inventory")),
                        "blocked": rng.random() < 0.1,
                        "inventory": Decimal(rng.randint(0, 500)),
                        "unitPrice": price,
                        "unitCost": (price * Decimal("0.6")).quantize(Decimal("0.01")),
                        "baseUnitOfMeasureCode": "PCS",
                        "lastModifiedDateTime": _stamp(start + timedelta(days=rng.randint(0, 300)), rng),
                    },
                ),
            )
        )
    for i in range(rows):
        customer = rng.choice(customers)
        day = start + timedelta(days=rng.randint(0, 300))
        order_id = _guid(rng)
        total = Decimal(0)
        for n in range(rng.randint(1, 4)):
            item = rng.choice(items)
            quantity = Decimal(rng.randint(1, 20))
            amount = quantity * item["unitPrice"]
            total += amount
            store.insert(
                company,
                "salesOrderLines",
                _row(
                    "salesOrderLines",
                    {
                        "id": _guid(rng),
                        "documentId": order_id,
                        "sequence": 10000 * (n + 1),
                        "itemId": item["id"],
                        "lineType": "Item",
                        "lineObjectNumber": item["number"],
                        "description": item["displayName"],
                        "unitOfMeasureCode": "PCS",
                        "quantity": quantity,
                        "unitPrice": item["unitPrice"],
                        "amountExcludingTax": amount,
                        "amountIncludingTax": amount,
                        "netAmount": amount,
                        "netAmountIncludingTax": amount,
                        "shipmentDate": day.isoformat(),
                        "invoiceQuantity": quantity,
                        "shipQuantity": quantity,
                    },
                ),
            )
        store.insert(
            company,
            "salesOrders",
            _row(
                "salesOrders",
                {
                    "id": order_id,
                    "number": f"S-ORD{101001 + i}",
                    "orderDate": day.isoformat(),
                    "postingDate": day.isoformat(),
                    "customerId": customer["id"],
                    "customerNumber": customer["number"],
                    "customerName": customer["displayName"],
                    "billToName": customer["displayName"],
                    "billToCustomerId": customer["id"],
                    "billToCustomerNumber": customer["number"],
                    "shipToName": customer["displayName"],
                    "sellToCity": customer["city"],
                    "sellToCountry": customer["country"],
                    "currencyCode": customer["currencyCode"],
                    "status": rng.choice(("Draft", "Open", "Open")),
                    "salesperson": customer["salespersonCode"],
                    "totalAmountExcludingTax": total,
                    "totalAmountIncludingTax": total,
                    "fullyShipped": rng.random() < 0.3,
                    "lastModifiedDateTime": _stamp(day, rng),
                },
            ),
        )
    for i in range(ledger_rows):
        account = rng.choice(accounts)
        debit = rng.random() < 0.5
        amount = _money(rng, 1, 10_000)
        store.insert(
            company,
            "generalLedgerEntries",
            _row(
                "generalLedgerEntries",
                {
                    "id": _guid(rng),
                    "entryNumber": i + 1,
                    "postingDate": (start + timedelta(days=i % 365)).isoformat(),
                    "documentNumber": f"G{100000 + i // 2}",
                    "documentType": rng.choice(("_x0020_", "Payment", "Invoice", "Credit_x0020_Memo")),
                    "accountId": account["id"],
                    "accountNumber": account["number"],
                    "description": account["displayName"],
                    "debitAmount": amount if debit else Decimal(0),
                    "creditAmount": Decimal(0) if debit else amount,
                    "lastModifiedDateTime": _stamp(start + timedelta(days=i % 365), rng),
                },
            ),
        )


__all__ = ["COMPANIES", "load"]
