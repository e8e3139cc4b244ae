"""Deterministic sample data for the sandbox.

Owns: generating every row of every table from one seed (same seed and size -> same bytes), and
loading it into the store in large `executemany` chunks. Rows are produced as tuples over a fixed
column list per table; randomness comes from one 64-bit draw per row sliced into fields, which is
what keeps generation at tens of thousands of rows per second in pure Python.
Primary keys are generated in SQL Server's uniqueidentifier order (guidorder.py), so insertion order
is key order (the order Dataverse returns rows in without `$orderby`) and key-ordered scans read the
table sequentially.
"""

# ruff: noqa: S608, S311 - SQL is built from the table model's quoted identifiers; values are bound; the generator is seeded for reproducible sample data, not for secrets

from __future__ import annotations

import gc
import math
import random
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar

from d365conn.sandbox.model import load_json_resource
from d365conn.sandbox.store import Store, quote

CHUNK = 20_000
_WORDS = load_json_resource("sample_words.json")
FIRST_NAMES: tuple[str, ...] = tuple(_WORDS["first_names"])
LAST_NAMES: tuple[str, ...] = tuple(_WORDS["last_names"])
NAME_WORDS: tuple[str, ...] = tuple(_WORDS["name_words"])
NAME_SUFFIXES: tuple[str, ...] = tuple(_WORDS["name_suffixes"])
#: (city, state or province, country, latitude, longitude)
CITIES: tuple[tuple[str, str, str, float, float], ...] = tuple(tuple(c) for c in _WORDS["cities"])
STREETS: tuple[str, ...] = tuple(_WORDS["streets"])
OPPORTUNITY_WORDS: tuple[str, ...] = tuple(_WORDS["opportunity_words"])
CURRENCIES = (("US Dollar", "USD", "$", 1.0), ("Euro", "EUR", "€", 0.92), ("British Pound", "GBP", "£", 0.79))
EPOCH = datetime(2019, 1, 1, tzinfo=timezone.utc)
SPAN_SECONDS = 6 * 365 * 86400


def _guid(bits: int) -> str:
    """A version-4 GUID string from 128 random bits (what uuid.UUID(int=..., version=4) gives,
    without building UUID objects: this runs millions of times)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


#: In the uniqueidentifier sort key (see guidorder.py), the version nibble (the first of group 3)
#: is hex digit 18 and the variant nibble (the first of group 4) hex digit 12.
_VERSION_CLEAR = ~(0xF << 52)
_VARIANT_CLEAR = ~(0xC << 76)
_VERSION_VARIANT = (0x4 << 52) | (0x8 << 76)


def _guid_from_key(key: int) -> str:
    """The version-4 GUID whose uniqueidentifier sort key is `key` (see guidorder.py)."""
    b = key.to_bytes(16, "big")  # key bytes: group 5, group 4, then groups 3, 2, 1 byte-reversed
    return f"{b[15:11:-1].hex()}-{b[11:9:-1].hex()}-{b[9:7:-1].hex()}-{b[6:8].hex()}-{b[:6].hex()}"


def _guids(rng: random.Random, count: int) -> list[str]:
    """`count` version-4 GUIDs in SQL Server's uniqueidentifier order: the keys are drawn as sort
    keys and sorted as integers, so insertion order is that order without sorting text."""
    getrandbits = rng.getrandbits
    clear, mark = _VERSION_CLEAR & _VARIANT_CLEAR, _VERSION_VARIANT
    keys = sorted([(getrandbits(128) & clear) | mark for _ in range(count)])
    return [_guid_from_key(k) for k in keys]


def _timestamps(rng: random.Random, count: int) -> list[str]:
    stamps = sorted(EPOCH + timedelta(seconds=rng.randrange(SPAN_SECONDS)) for _ in range(count))
    return [s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps]


def _dates(rng: random.Random, start: date, days: int, count: int) -> list[str]:
    return [(start + timedelta(days=rng.randrange(days))).isoformat() for _ in range(count)]


class Generator:
    """Generates all tables for one (rows, seed) pair."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rows = max(1, rows)
        self.seed = seed
        rng = random.Random(seed)
        self.rng = rng
        self.n_accounts = self.rows
        self.n_contacts = max(1, math.ceil(self.rows / 2))
        self.n_opportunities = max(1, math.ceil(self.rows / 2))
        self.n_users = max(20, min(500, self.rows // 2000))
        self.n_teams = 10
        self.n_units = 5
        self.account_ids = _guids(rng, self.n_accounts)
        self.contact_ids = _guids(rng, self.n_contacts)
        self.opportunity_ids = _guids(rng, self.n_opportunities)
        self.user_ids = _guids(rng, self.n_users)
        self.team_ids = _guids(rng, self.n_teams)
        self.unit_ids = _guids(rng, self.n_units)
        self.currency_ids = _guids(rng, len(CURRENCIES))
        self.stamps = _timestamps(rng, 8192)
        self.campaign_days = [d + "T00:00:00Z" for d in _dates(rng, date(2022, 1, 1), 1000, 512)]
        self.birthdates = _dates(rng, date(1950, 1, 1), 365 * 50, 2048)
        self.close_dates = _dates(rng, date(2023, 1, 1), 900, 1024)
        self.aux_guids = [_guid(rng.getrandbits(128)) for _ in range(4096)]
        self.version = 1_000_000
        self.account_names = [
            f"{a} {b} {c}" for a in NAME_WORDS for b in NAME_WORDS if a != b for c in NAME_SUFFIXES
        ]
        rng.shuffle(self.account_names)

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    # -- small tables ----------------------------------------------------------------------
    def currencies(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        columns = [
            "transactioncurrencyid",
            "currencyname",
            "isocurrencycode",
            "currencysymbol",
            "exchangerate",
            "currencyprecision",
            "statecode",
            "statuscode",
            "createdon",
            "modifiedon",
            "_createdby_value",
            "_modifiedby_value",
            "versionnumber",
        ]
        rows = [
            (
                cid,
                name,
                iso,
                symbol,
                rate,
                2,
                0,
                1,
                self.stamps[0],
                self.stamps[0],
                self.user_ids[0],
                self.user_ids[0],
                self._next_version(),
            )
            for cid, (name, iso, symbol, rate) in zip(self.currency_ids, CURRENCIES, strict=True)
        ]
        return columns, iter(rows)

    def units(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        columns = [
            "businessunitid",
            "name",
            "divisionname",
            "address1_city",
            "isdisabled",
            "_parentbusinessunitid_value",
            "_transactioncurrencyid_value",
            "createdon",
            "modifiedon",
            "_createdby_value",
            "_modifiedby_value",
            "versionnumber",
        ]
        names = ["contoso", "Sales", "Service", "Marketing", "Operations"]
        rows = [
            (
                uid,
                names[i % len(names)],
                names[i % len(names)],
                CITIES[i][0],
                0,
                None if i == 0 else self.unit_ids[0],
                self.currency_ids[0],
                self.stamps[i],
                self.stamps[i],
                self.user_ids[0],
                self.user_ids[0],
                self._next_version(),
            )
            for i, uid in enumerate(self.unit_ids)
        ]
        return columns, iter(rows)

    def users(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        columns = [
            "systemuserid",
            "fullname",
            "firstname",
            "lastname",
            "domainname",
            "internalemailaddress",
            "title",
            "isdisabled",
            "accessmode",
            "_businessunitid_value",
            "_parentsystemuserid_value",
            "azureactivedirectoryobjectid",
            "createdon",
            "modifiedon",
            "_createdby_value",
            "_modifiedby_value",
            "versionnumber",
        ]
        rows = []
        for i, uid in enumerate(self.user_ids):
            first, last = FIRST_NAMES[(i * 7) % len(FIRST_NAMES)], LAST_NAMES[(i * 11) % len(LAST_NAMES)]
            if i == 0:
                first, last = "Sandbox", "Administrator"
            login = f"{first}.{last}{i}".lower().replace("'", "")
            rows.append(
                (
                    uid,
                    f"{first} {last}",
                    first,
                    last,
                    f"{login}@contoso.onmicrosoft.com",
                    f"{login}@contoso.com",
                    "Account Manager" if i % 3 else "Sales Director",
                    0,
                    4 if i == 1 else 0,
                    self.unit_ids[i % self.n_units],
                    None if i == 0 else self.user_ids[0],
                    self.aux_guids[i % 4096],
                    self.stamps[i],
                    self.stamps[i],
                    self.user_ids[0],
                    self.user_ids[0],
                    self._next_version(),
                )
            )
        return columns, iter(rows)

    def teams(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        columns = [
            "teamid",
            "name",
            "teamtype",
            "isdefault",
            "description",
            "emailaddress",
            "_businessunitid_value",
            "_administratorid_value",
            "createdon",
            "modifiedon",
            "_createdby_value",
            "_modifiedby_value",
            "versionnumber",
        ]
        rows = [
            (
                tid,
                "contoso" if i == 0 else f"Team {NAME_WORDS[i]}",
                0 if i < 6 else 1,
                1 if i == 0 else 0,
                None,
                None,
                self.unit_ids[i % self.n_units],
                self.user_ids[i % self.n_users],
                self.stamps[i],
                self.stamps[i],
                self.user_ids[0],
                self.user_ids[0],
                self._next_version(),
            )
            for i, tid in enumerate(self.team_ids)
        ]
        return columns, iter(rows)

    # -- owner / currency helpers ------------------------------------------------------------
    def _owner(self, r: int) -> tuple[str, str, str | None, str | None, str]:
        """(ownerid, owner type, owninguser, owningteam, owningbusinessunit) for a random draw."""
        if r % 10 == 0:
            team = self.team_ids[(r >> 4) % self.n_teams]
            return team, "team", None, team, self.unit_ids[(r >> 4) % self.n_units]
        user = self.user_ids[(r >> 4) % self.n_users]
        return user, "systemuser", user, None, self.unit_ids[((r >> 4) % self.n_users) % self.n_units]

    # -- big tables --------------------------------------------------------------------------
    ACCOUNT_COLUMNS: ClassVar[list[str]] = [
        "accountid",
        "name",
        "accountnumber",
        "address1_line1",
        "address1_city",
        "address1_stateorprovince",
        "address1_country",
        "address1_postalcode",
        "address1_composite",
        "address1_latitude",
        "address1_longitude",
        "address1_addressid",
        "address2_addressid",
        "telephone1",
        "emailaddress1",
        "websiteurl",
        "revenue",
        "revenue_base",
        "numberofemployees",
        "industrycode",
        "accountcategorycode",
        "customertypecode",
        "ownershipcode",
        "preferredcontactmethodcode",
        "address2_addresstypecode",
        "address2_freighttermscode",
        "address2_shippingmethodcode",
        "shippingmethodcode",
        "territorycode",
        "customersizecode",
        "businesstypecode",
        "accountclassificationcode",
        "accountratingcode",
        "statecode",
        "statuscode",
        "createdon",
        "modifiedon",
        "lastusedincampaign",
        "_primarycontactid_value",
        "_parentaccountid_value",
        "_ownerid_value",
        "__type_ownerid",
        "_owninguser_value",
        "_owningteam_value",
        "_owningbusinessunit_value",
        "_transactioncurrencyid_value",
        "exchangerate",
        "_createdby_value",
        "_modifiedby_value",
        "creditlimit",
        "creditlimit_base",
        "creditonhold",
        "donotemail",
        "donotphone",
        "donotfax",
        "donotpostalmail",
        "donotbulkemail",
        "donotbulkpostalmail",
        "donotsendmm",
        "merged",
        "marketingonly",
        "participatesinworkflow",
        "followemail",
        "description",
        "versionnumber",
    ]

    def accounts(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        return self.ACCOUNT_COLUMNS, self._accounts()

    def _accounts(self) -> Iterator[Sequence[Any]]:
        rng = random.Random(self.seed * 31 + 1)
        getrandbits = rng.getrandbits
        names, n_names = self.account_names, len(self.account_names)
        stamps, cities, streets = self.stamps, CITIES, STREETS
        contact_ids, n_contacts, ids = self.contact_ids, self.n_contacts, self.account_ids
        industries = list(range(1, 34))
        currency_ids = self.currency_ids
        version = self.version
        # Locals, not attribute lookups: this loop runs once per account.
        aux, campaign_days, owner_of = self.aux_guids, self.campaign_days, self._owner
        user_ids, n_users, admin = self.user_ids, self.n_users, self.user_ids[0]
        rates = [c[3] for c in CURRENCIES]
        for i, account_id in enumerate(ids):
            r = getrandbits(64)
            name = names[i % n_names] if i < n_names else f"{names[i % n_names]} {i // n_names + 1}"
            city, state, country, lat, lon = cities[r % 20]
            street = f"{(r >> 5) % 9000 + 1} {streets[(r >> 18) % 15]}"
            postal = f"{(r >> 9) % 90000 + 10000}"
            revenue: float | None = None if (r >> 22) % 10 == 0 else float(((r >> 26) % 5000 + 1) * 10000)
            cur = 0 if (r >> 36) % 10 else 1 + (r >> 40) % 2
            rate = rates[cur]
            owner, owner_type, owning_user, owning_team, unit = owner_of(r >> 44)
            created = stamps[(r >> 12) % 8192]
            active = (r >> 30) % 10 != 0
            credit: float | None = float(((r >> 33) % 100 + 1) * 1000) if (r >> 31) % 3 == 0 else None
            version += 1
            word = name.split(" ")[0].lower()
            yield (
                account_id,
                name,
                f"ACC-{i + 1:07d}",
                street,
                city,
                state,
                country,
                postal,
                f"{street}\r\n{city}, {state} {postal}\r\n{country}",
                round(lat + ((r >> 3) % 100) / 1000, 5),
                round(lon - ((r >> 7) % 100) / 1000, 5),
                aux[r % 4096],
                aux[(r >> 12) % 4096],
                f"+1-555-{(r >> 20) % 900 + 100:03d}-{(r >> 14) % 9000 + 1000:04d}",
                None if (r >> 24) % 7 == 0 else f"info{i}@{word}.example.com",
                f"https://www.{word}{i}.example.com",
                revenue,
                None if revenue is None else round(revenue / rate, 4),
                None if (r >> 27) % 8 == 0 else (r >> 28) % 20000 + 1,
                None if (r >> 29) % 5 == 0 else industries[(r >> 33) % 33],
                1 + (r >> 37) % 2,
                None if (r >> 38) % 3 else 1 + (r >> 39) % 12,
                None if (r >> 41) % 2 else 1 + (r >> 42) % 4,
                1 + (r >> 43) % 5,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                0 if active else 1,
                1 if active else 2,
                created,
                created,
                None if (r >> 46) % 4 else campaign_days[(r >> 47) % 512],
                contact_ids[i // 2] if i % 2 == 0 and i // 2 < n_contacts else None,
                ids[(r >> 50) % i] if i > 0 and (r >> 49) % 10 == 0 else None,
                owner,
                owner_type,
                owning_user,
                owning_team,
                unit,
                currency_ids[cur],
                rate,
                admin,
                user_ids[(r >> 52) % n_users],
                credit,
                None if credit is None else round(credit / rate, 4),
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
                None
                if (r >> 55) % 3
                else f"{name} is a {CURRENCIES[cur][1]}-billed customer based in {city}.",
                version,
            )
        self.version = version

    CONTACT_COLUMNS: ClassVar[list[str]] = [
        "contactid",
        "firstname",
        "lastname",
        "fullname",
        "yomifullname",
        "emailaddress1",
        "telephone1",
        "jobtitle",
        "address1_city",
        "address1_country",
        "birthdate",
        "gendercode",
        "familystatuscode",
        "preferredcontactmethodcode",
        "address2_addresstypecode",
        "address2_freighttermscode",
        "address2_shippingmethodcode",
        "shippingmethodcode",
        "territorycode",
        "customersizecode",
        "customertypecode",
        "haschildrencode",
        "educationcode",
        "leadsourcecode",
        "preferredappointmenttimecode",
        "_parentcustomerid_value",
        "__type_parentcustomerid",
        "_accountid_value",
        "_ownerid_value",
        "__type_ownerid",
        "_owninguser_value",
        "_owningteam_value",
        "_owningbusinessunit_value",
        "_transactioncurrencyid_value",
        "exchangerate",
        "annualincome",
        "annualincome_base",
        "statecode",
        "statuscode",
        "createdon",
        "modifiedon",
        "_createdby_value",
        "_modifiedby_value",
        "donotemail",
        "donotphone",
        "donotfax",
        "donotpostalmail",
        "donotbulkemail",
        "donotbulkpostalmail",
        "donotsendmm",
        "merged",
        "marketingonly",
        "participatesinworkflow",
        "followemail",
        "creditonhold",
        "isbackofficecustomer",
        "timezoneruleversionnumber",
        "address1_addressid",
        "address2_addressid",
        "address3_addressid",
        "versionnumber",
    ]

    def contacts(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        return self.CONTACT_COLUMNS, self._contacts()

    def _contacts(self) -> Iterator[Sequence[Any]]:
        rng = random.Random(self.seed * 31 + 2)
        getrandbits = rng.getrandbits
        firsts, lasts = FIRST_NAMES, LAST_NAMES
        nf, nl = len(firsts), len(lasts)
        version = self.version
        for i, contact_id in enumerate(self.contact_ids):
            r = getrandbits(64)
            first, last = firsts[r % nf], lasts[(r >> 8) % nl]
            city = CITIES[(r >> 16) % 20]
            account = self.account_ids[(2 * i) % self.n_accounts]
            owner, owner_type, owning_user, owning_team, unit = self._owner(r >> 20)
            created = self.stamps[(r >> 30) % 8192]
            income: float | None = None if (r >> 43) % 3 == 0 else float(((r >> 44) % 200 + 20) * 1000)
            active = (r >> 52) % 12 != 0
            version += 1
            yield (
                contact_id,
                first,
                last,
                f"{first} {last}",
                f"{first} {last}",
                f"{first}.{last}.{i}@example.com".lower().replace("'", ""),
                f"+1-555-{(r >> 24) % 900 + 100:03d}-{(r >> 34) % 9000 + 1000:04d}",
                ("Purchasing Manager", "CEO", "CFO", "IT Director", "Buyer", None)[(r >> 40) % 6],
                city[0],
                city[2],
                None if (r >> 46) % 4 == 0 else self.birthdates[(r >> 47) % 2048],
                None if (r >> 58) % 3 == 0 else 1 + (r >> 59) % 2,
                None if (r >> 60) % 2 else 1 + (r >> 61) % 4,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                1,
                account,
                "account",
                account,
                owner,
                owner_type,
                owning_user,
                owning_team,
                unit,
                self.currency_ids[0],
                1.0,
                income,
                income,
                0 if active else 1,
                1 if active else 2,
                created,
                created,
                self.user_ids[0],
                self.user_ids[0],
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
                0,
                0,
                0,
                self.aux_guids[r % 4096],
                self.aux_guids[(r >> 12) % 4096],
                self.aux_guids[(r >> 50) % 4096],
                version,
            )
        self.version = version

    OPPORTUNITY_COLUMNS: ClassVar[list[str]] = [
        "opportunityid",
        "name",
        "_parentaccountid_value",
        "_customerid_value",
        "__type_customerid",
        "_parentcontactid_value",
        "estimatedvalue",
        "estimatedvalue_base",
        "actualvalue",
        "actualvalue_base",
        "estimatedclosedate",
        "actualclosedate",
        "closeprobability",
        "statecode",
        "statuscode",
        "salesstage",
        "prioritycode",
        "opportunityratingcode",
        "purchasetimeframe",
        "budgetamount",
        "budgetamount_base",
        "_ownerid_value",
        "__type_ownerid",
        "_owninguser_value",
        "_owningteam_value",
        "_owningbusinessunit_value",
        "_transactioncurrencyid_value",
        "exchangerate",
        "createdon",
        "modifiedon",
        "_createdby_value",
        "_modifiedby_value",
        "isrevenuesystemcalculated",
        "participatesinworkflow",
        "description",
        "versionnumber",
    ]

    def opportunities(self) -> tuple[list[str], Iterator[Sequence[Any]]]:
        return self.OPPORTUNITY_COLUMNS, self._opportunities()

    def _opportunities(self) -> Iterator[Sequence[Any]]:
        rng = random.Random(self.seed * 31 + 3)
        getrandbits = rng.getrandbits
        version = self.version
        for _i, opportunity_id in enumerate(self.opportunity_ids):
            r = getrandbits(64)
            account_index = (r >> 2) % self.n_accounts
            account = self.account_ids[account_index]
            company = self.account_names[account_index % len(self.account_names)].split(" ")[0]
            value = float(((r >> 20) % 1000 + 1) * 500)
            state = (0, 0, 0, 1, 2)[(r >> 32) % 5]
            status = {0: 1 + (r >> 35) % 2, 1: 3, 2: 4 + (r >> 35) % 2}[state]
            owner, owner_type, owning_user, owning_team, unit = self._owner(r >> 40)
            created = self.stamps[(r >> 50) % 8192]
            version += 1
            yield (
                opportunity_id,
                f"{(r >> 10) % 500 + 1} {OPPORTUNITY_WORDS[(r >> 16) % 10]} for {company}",
                account,
                account,
                "account",
                self.contact_ids[(r >> 24) % self.n_contacts] if (r >> 23) % 2 else None,
                value,
                value,
                value if state == 1 else None,
                value if state == 1 else None,
                self.close_dates[(r >> 36) % 1024],
                self.close_dates[(r >> 46) % 1024] if state else None,
                (10, 25, 50, 75, 90)[(r >> 33) % 5] if state == 0 else (100 if state == 1 else 0),
                state,
                status,
                (r >> 38) % 4,
                1,
                1 + (r >> 39) % 3,
                None if (r >> 41) % 2 else (r >> 42) % 5,
                None if (r >> 45) % 3 else value * 1.2,
                None if (r >> 45) % 3 else value * 1.2,
                owner,
                owner_type,
                owning_user,
                owning_team,
                unit,
                self.currency_ids[0],
                1.0,
                created,
                created,
                self.user_ids[0],
                self.user_ids[0],
                1,
                0,
                None,
                version,
            )
        self.version = version


def load(store: Store, rows: int, seed: int) -> dict[str, int]:
    """Create the tables and fill them; returns row counts per table."""
    # Millions of tuples that live until inserted: the cyclic GC would rescan them again and again.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    generator = Generator(rows, seed)
    connection = store.raw_connection()
    try:
        store.create(
            connection,
            {
                "account": generator.ACCOUNT_COLUMNS,
                "contact": generator.CONTACT_COLUMNS,
                "opportunity": generator.OPPORTUNITY_COLUMNS,
            },
        )
        counts: dict[str, int] = {}
        for table, produce in (
            ("transactioncurrency", generator.currencies),
            ("businessunit", generator.units),
            ("systemuser", generator.users),
            ("team", generator.teams),
            ("account", generator.accounts),
            ("contact", generator.contacts),
            ("opportunity", generator.opportunities),
        ):
            columns, source = produce()
            counts[table] = _insert(connection, table, columns, source)
        store.create_indexes(connection)
        store.track_filled(
            connection,
            {
                "account": generator.ACCOUNT_COLUMNS,
                "contact": generator.CONTACT_COLUMNS,
                "opportunity": generator.OPPORTUNITY_COLUMNS,
            },
        )
        connection.executemany(
            "INSERT OR REPLACE INTO __meta VALUES (?, ?)",
            [
                ("version", str(generator.version)),
                ("rows", str(rows)),
                ("seed", str(seed)),
                ("schema", _schema_stamp()),
            ],
        )
    finally:
        connection.close()
        if gc_was_enabled:
            gc.enable()
    return counts


def _schema_stamp() -> str:
    from d365conn.sandbox.store import SCHEMA_VERSION

    return SCHEMA_VERSION


def _insert(
    connection: sqlite3.Connection, table: str, columns: list[str], source: Iterator[Sequence[Any]]
) -> int:
    """Insert in CHUNK-row executemany calls (one transaction; a writer thread was tried and lost
    more to GIL hand-offs than it gained)."""
    sql = (
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    total = 0
    connection.execute("BEGIN")
    while True:
        chunk = [row for _, row in zip(range(CHUNK), source, strict=False)]
        if not chunk:
            break
        connection.executemany(sql, chunk)
        total += len(chunk)
    connection.execute("COMMIT")
    return total
