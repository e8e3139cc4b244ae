"""`$metadata` is valid OData 4.0 CSDL, as judged by a third-party tool.

The judge is `odata-csdl` (npm), the OASIS OData TC's own CSDL XML -> CSDL JSON converter, run in
strict mode: it rejects elements, attributes and nesting that CSDL 4.0 does not allow and missing
required attributes. Its JSON output is then checked for what a parser cannot: every type
reference, key, partner and referential constraint resolves. (Python's OData clients such as
pyodata read only OData v2, and the OASIS XSDs are not shipped by any registry package.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.webapi_client import Api

PACKAGE = "odata-csdl@0.11.2"
CACHE = Path(os.environ.get("D365CONN_NPM_CACHE", Path.home() / ".cache" / "d365conn-tests" / "odata-csdl"))
SCRIPT = """
const { xml2json } = require(process.argv[1]);
let xml = '';
process.stdin.on('data', c => xml += c);
process.stdin.on('end', () => {
  try { process.stdout.write(JSON.stringify(xml2json(xml, { strict: true }))); }
  catch (e) { process.stderr.write(String(e.message || e)); process.exit(3); }
});
"""


@pytest.fixture(scope="module")
def xml2json() -> Path:
    module = CACHE / "node_modules" / "odata-csdl"
    if not module.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the CSDL validator (odata-csdl)"
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), PACKAGE],
            check=True,
            capture_output=True,
            timeout=240,
        )
    return module / "lib" / "xml2json.js"


def convert(xml2json: Path, xml: bytes) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed to run the CSDL validator"
    result = subprocess.run(
        [node, "-e", SCRIPT, str(xml2json)], input=xml, capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    converted: dict[str, Any] = json.loads(result.stdout)
    return converted


def test_metadata_is_strict_csdl_4_0(api: Api, xml2json: Path) -> None:
    response = api.get("$metadata")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/xml")
    csdl = convert(xml2json, response.content)
    assert csdl["$Version"] == "4.0"
    assert csdl["$EntityContainer"] == "Microsoft.Dynamics.CRM.System"
    schema = csdl["Microsoft.Dynamics.CRM"]
    assert schema["$Alias"] == "mscrm"
    account = schema["account"]
    assert account["$BaseType"] == "mscrm.crmbaseentity" and account["$Key"] == ["accountid"]
    assert account["_primarycontactid_value"]["$Type"] == "Edm.Guid"
    assert account["primarycontactid"]["$ReferentialConstraint"] == {"_primarycontactid_value": "contactid"}
    assert schema["contact"]["birthdate"]["$Type"] == "Edm.Date"


def test_every_reference_in_metadata_resolves(api: Api, xml2json: Path) -> None:
    csdl = convert(xml2json, api.get("$metadata").content)
    schema = csdl["Microsoft.Dynamics.CRM"]
    types = {
        name
        for name, value in schema.items()
        if isinstance(value, dict) and value.get("$Kind") in ("EntityType", "ComplexType")
    }

    def resolve(name: str) -> str:
        local = name.replace("mscrm.", "").replace("Microsoft.Dynamics.CRM.", "")
        assert local in types, f"unresolved type {name}"
        return local

    for name, entity in schema.items():
        if not isinstance(entity, dict) or entity.get("$Kind") != "EntityType":
            continue
        if "$BaseType" in entity:
            resolve(entity["$BaseType"])
        for prop, member in entity.items():
            if not isinstance(member, dict) or member.get("$Kind") != "NavigationProperty":
                continue
            target = schema[resolve(member["$Type"])]
            for local, remote in member.get("$ReferentialConstraint", {}).items():
                assert local in entity, f"{name}.{prop}: constraint on a missing property {local}"
                assert remote in target or target.get("$Abstract"), f"{name}.{prop}: {remote} not on target"
            if "$Partner" in member:
                partner = target[member["$Partner"]]
                assert partner["$Kind"] == "NavigationProperty" and partner.get("$Partner", prop) == prop
    container = schema["System"]
    for set_name, entity_set in container.items():
        if isinstance(entity_set, dict) and "$Type" in entity_set:
            entity = schema[resolve(entity_set["$Type"])]
            for path, target_set in entity_set.get("$NavigationPropertyBinding", {}).items():
                assert path in entity and target_set in container, (
                    f"{set_name}: binding {path} -> {target_set}"
                )
