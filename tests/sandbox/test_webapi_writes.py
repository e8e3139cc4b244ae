"""Writes over real sockets: create, upsert, concurrency, delete, binds, validation, $batch, bulk actions."""

from __future__ import annotations

import re
import uuid

from tests.sandbox.webapi_client import Api

ENTITY_ID = re.compile(r"/api/data/v9\.2/(\w+)\(([0-9a-f-]{36})\)$")


def created_id(response: object) -> str:
    match = ENTITY_ID.search(response.headers["OData-EntityId"])  # type: ignore[attr-defined]
    assert match is not None
    return match.group(2)


def test_create_update_delete_round_trip(api: Api) -> None:
    created = api.request("POST", "accounts", {"name": "Round Trip", "revenue": 1200.5, "industrycode": 3})
    assert created.status_code == 204 and created.content == b""
    key = created_id(created)
    row = api.get(f"accounts({key})?$select=name,revenue,revenue_base,statecode,_ownerid_value").json()
    assert row["revenue"] == row["revenue_base"] == 1200.5 and row["statecode"] == 0 and row["_ownerid_value"]
    etag = row["@odata.etag"]
    assert (
        api.request("PATCH", f"accounts({key})", {"name": "Renamed"}, **{"If-Match": etag}).status_code == 204
    )
    stale = api.request("PATCH", f"accounts({key})", {"name": "Again"}, **{"If-Match": etag})
    assert stale.status_code == 412
    assert api.get(f"accounts({key})/name").json()["value"] == "Renamed"
    assert api.request("DELETE", f"accounts({key})").status_code == 204
    gone = api.request("DELETE", f"accounts({key})")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "0x80040217"


def test_patch_upserts_unless_if_match_star(api: Api) -> None:
    key = str(uuid.uuid4())
    refused = api.request("PATCH", f"accounts({key})", {"name": "Must exist"}, **{"If-Match": "*"})
    assert refused.status_code == 404
    created = api.request("PATCH", f"accounts({key})", {"name": "Upserted"}, Prefer="return=representation")
    assert created.status_code == 201 and created.json()["accountid"] == key
    no_update = api.request("PATCH", f"accounts({key})", {"name": "x"}, **{"If-None-Match": "*"})
    assert no_update.status_code == 412
    by_alternate = api.request("PATCH", "accounts(accountnumber='ALT-1')", {"name": "By alternate key"})
    assert by_alternate.status_code == 204
    assert api.get("accounts(accountnumber='ALT-1')?$select=name").json()["name"] == "By alternate key"


def test_binds_including_polymorphic_navigation_names(api: Api) -> None:
    account = created_id(api.request("POST", "accounts", {"name": "Parent Co"}))
    contact = created_id(
        api.request(
            "POST",
            "contacts",
            {
                "firstname": "Ada",
                "lastname": "Lovelace",
                "parentcustomerid_account@odata.bind": f"/accounts({account})",
            },
        )
    )
    row = api.get(
        f"contacts({contact})?$select=fullname,_parentcustomerid_value",
        Prefer='odata.include-annotations="*"',
    ).json()
    assert row["fullname"] == "Ada Lovelace" and row["_parentcustomerid_value"] == account
    assert row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert (
        row["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]
        == "parentcustomerid_account"
    )
    patched = api.request(
        "PATCH", f"accounts({account})", {"primarycontactid@odata.bind": f"contacts({contact})"}
    )
    assert patched.status_code == 204
    assert (
        api.get(f"accounts({account})?$select=_primarycontactid_value").json()["_primarycontactid_value"]
        == contact
    )


def test_invalid_writes_are_refused_with_real_codes(api: Api) -> None:
    direct = api.request("POST", "accounts", {"name": "x", "_primarycontactid_value": str(uuid.uuid4())})
    assert direct.status_code == 400 and direct.json()["error"]["code"] == "0x80060888"
    unknown = api.request("POST", "accounts", {"name": "x", "nosuch": 1})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "0x80048d19"
    read_only = api.request("POST", "accounts", {"name": "x", "revenue_base": 5})
    assert read_only.status_code == 400
    bad_choice = api.request("POST", "accounts", {"name": "x", "industrycode": 999})
    assert bad_choice.status_code == 400 and bad_choice.json()["error"]["code"] == "0x80044331"
    too_long = api.request("POST", "accounts", {"name": "x" * 161})
    assert too_long.json()["error"]["code"] == "0x80044331"
    key = created_id(api.request("POST", "accounts", {"name": "dup"}))
    duplicate = api.request("POST", "accounts", {"name": "dup", "accountid": key})
    assert duplicate.status_code == 412 and duplicate.json()["error"]["code"] == "0x80040237"
    missing_bind = api.request(
        "POST", "accounts", {"name": "x", "parentaccountid@odata.bind": f"/accounts({uuid.uuid4()})"}
    )
    assert missing_bind.status_code == 404


def batch_body(boundary: str, parts: list[str]) -> bytes:
    return ("".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n").encode()


def change_set(boundary: str, requests: list[tuple[str, str, str, str]]) -> str:
    inner = ""
    for content_id, method, url, body in requests:
        inner += (
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {content_id}\r\n\r\n{method} {url} HTTP/1.1\r\nContent-Type: application/json\r\n"
            f"\r\n{body}\r\n"
        )
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}--{boundary}--"


def post_batch(api: Api, body: bytes, **headers: str) -> str:
    response = api.session.post(
        api.url + "$batch",
        data=body,
        headers={"Content-Type": "multipart/mixed; boundary=batch_1", **headers},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    return response.text


def test_batch_change_set_with_content_id_reference(api: Api) -> None:
    get = (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        "GET accounts?$select=name&$top=1 HTTP/1.1\r\nAccept: application/json\r\n"
    )
    changes = change_set(
        "changeset_1",
        [
            ("1", "POST", f"{api.url}contacts", '{"lastname":"Batchcontact"}'),
            (
                "2",
                "POST",
                "/api/data/v9.2/accounts",
                '{"name":"Batch Co","primarycontactid@odata.bind":"$1"}',
            ),
        ],
    )
    text = post_batch(api, batch_body("batch_1", [get, changes]))
    assert text.count("HTTP/1.1 200 OK") == 1 and text.count("HTTP/1.1 204 No Content") == 2
    row = api.get(
        "accounts?$select=name&$filter=name eq 'Batch Co'&$expand=primarycontactid($select=lastname)"
    )
    assert row.json()["value"][0]["primarycontactid"]["lastname"] == "Batchcontact"


def test_batch_change_set_is_atomic_and_stops_without_continue_on_error(api: Api) -> None:
    failing = change_set(
        "changeset_2",
        [
            ("1", "POST", "accounts", '{"name":"Never Stored"}'),
            ("2", "POST", "accounts", '{"name":"x","industrycode":999}'),
        ],
    )
    later = (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        'POST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"name":"After failure"}'
    )
    text = post_batch(api, batch_body("batch_1", [failing, later]))
    assert "HTTP/1.1 400 Bad Request" in text and "0x80044331" in text and "204" not in text
    assert api.get("accounts?$select=name&$filter=name eq 'Never Stored'").json()["value"] == []
    assert api.get("accounts?$select=name&$filter=name eq 'After failure'").json()["value"] == []
    text = post_batch(api, batch_body("batch_1", [failing, later]), Prefer="odata.continue-on-error")
    assert "HTTP/1.1 204 No Content" in text
    assert len(api.get("accounts?$select=name&$filter=name eq 'After failure'").json()["value"]) == 1


def test_batch_refuses_more_than_1000_requests(api: Api) -> None:
    get = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET WhoAmI HTTP/1.1\r\n"
    response = api.session.post(
        api.url + "$batch",
        data=batch_body("batch_1", [get] * 1001),
        headers={"Content-Type": "multipart/mixed; boundary=batch_1"},
    )
    assert response.status_code == 400 and "1000" in response.json()["error"]["message"]


def test_create_update_upsert_multiple(api: Api) -> None:
    kind = "Microsoft.Dynamics.CRM.account"
    created = api.request(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        {"Targets": [{"@odata.type": kind, "name": "Bulk A"}, {"@odata.type": kind, "name": "Bulk B"}]},
    )
    assert created.status_code == 200
    ids = created.json()["Ids"]
    assert len(ids) == 2
    updated = api.request(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
        {"Targets": [{"@odata.type": kind, "accountid": ids[0], "name": "Bulk A2"}]},
    )
    assert updated.status_code == 204
    assert api.get(f"accounts({ids[0]})/name").json()["value"] == "Bulk A2"
    rolled_back = api.request(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        {
            "Targets": [
                {"@odata.type": kind, "name": "Bulk Never"},
                {"@odata.type": kind, "name": "x", "industrycode": 999},
            ]
        },
    )
    assert rolled_back.status_code == 400
    assert api.get("accounts?$select=name&$filter=name eq 'Bulk Never'").json()["value"] == []
    upserted = api.request(
        "POST",
        "accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
        {
            "Targets": [
                {"@odata.type": kind, "accountid": ids[1], "name": "Bulk B2"},
                {"@odata.type": kind, "accountid": str(uuid.uuid4()), "name": "Bulk C"},
            ]
        },
    ).json()
    assert [r["RecordCreated"] for r in upserted["Results"]] == [False, True]


def test_concurrent_readers_and_writers_over_keep_alive_connections(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    headers = dict(api.session.headers)

    def reader(_: int) -> int:
        with requests.Session() as session:
            session.headers.update(headers)
            body = session.get(api.url + "accounts?$select=name&$top=200").json()
            return len(body["value"])

    def writer(index: int) -> int:
        with requests.Session() as session:
            session.headers.update(headers)
            return session.post(api.url + "accounts", json={"name": f"Concurrent {index}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:  # reads and writes interleaved
        futures = [(pool.submit(reader, i), pool.submit(writer, i)) for i in range(16)]
        reads = [r.result() for r, _ in futures]
        writes = [w.result() for _, w in futures]
    assert reads == [200] * 16 and writes == [204] * 16
    found = api.get("accounts/$count?$filter=startswith(name,'Concurrent ')").text
    assert found == "16"
