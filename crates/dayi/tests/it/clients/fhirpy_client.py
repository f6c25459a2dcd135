"""Drives Dayi's FHIR API with fhirpy, an independent client library:
create, read, search by identifier, page through a search by its links,
count, update with the version read, walk every patient unscoped a page
at a time, and create and find a patient by another hospital's record
number. Exits non-zero on any mismatch.

Environment: FHIR_BASE (…/fhir), FHIR_TOKEN (an API token), FHIR_NUMBERS
(resident ID numbers to register, JSON list).
"""

import json
import os

from fhirpy import SyncFHIRClient

RESIDENT = "urn:oid:2.16.156.10011.1.3"
base, token = os.environ["FHIR_BASE"], os.environ["FHIR_TOKEN"]
numbers = json.loads(os.environ["FHIR_NUMBERS"])
client = SyncFHIRClient(base, authorization=f"Bearer {token}")

ids = []
for n, number in enumerate(numbers):
    p = client.resource(
        "Patient",
        identifier=[{"system": RESIDENT, "value": number}],
        name=[{"family": "司马", "given": ["光" + "一二三四五"[n]]}],
        gender="male",
        birthDate="1980-05-05",
    )
    p.save()
    assert p.id, "the server named the new patient"
    ids.append(p.id)

first = client.reference("Patient", ids[0]).to_resource()
assert first["name"][0]["text"] == "司马光一", first
assert first["meta"]["security"][0]["code"] == "MASKED", first

found = client.resources("Patient").search(identifier=f"{RESIDENT}|{numbers[1]}").fetch()
assert [r.id for r in found] == [ids[1]], found

# one patient per page: fetch_all follows the Bundle's next links
paged = client.resources("Patient").search(name="司马光").limit(1).fetch_all()
assert sorted(r.id for r in paged) == sorted(ids), paged
assert client.resources("Patient").search(name="司马光").count() == len(ids)

# an update sends back what was read, with the version it read; fhirpy
# has no If-Match of its own, so a client with that header sends it
def put(resource, version):
    versioned = SyncFHIRClient(base, authorization=f"Bearer {token}", extra_headers={"If-Match": f'W/"{version}"'})
    versioned.resource("Patient", **resource.serialize()).save()


second = client.reference("Patient", ids[1]).to_resource()
second["address"] = [{"use": "home", "text": "山东省济宁市汶上县南旺镇"}]
version = second["meta"]["versionId"]
put(second, version)
again = client.reference("Patient", ids[1]).to_resource()
assert again["address"][0]["text"] == "山东省济宁市汶上县南旺镇", again
assert again["meta"]["versionId"] != version
try:
    put(second, version)
    raise AssertionError("a stale version was accepted")
except AssertionError:
    raise
except Exception as e:  # fhirpy reads 412 as MultipleResourcesFound
    assert "request.version_mismatch" in str(e), e

# a generic client's walk: no search parameter, five a page, by the next links
everyone = client.resources("Patient").limit(5).fetch_all()
walked = [r.id for r in everyone]
assert len(walked) == len(set(walked)), "a patient shown twice"
assert set(ids) <= set(walked), walked
total = client.resources("Patient").count()
assert len(walked) == total, (len(walked), total)

# another hospital's record number, and one with no system at all
MRN = "http://hospital.example.org/mrn"
p = client.resource(
    "Patient",
    identifier=[{"system": MRN, "value": "fhirpy-12345"}, {"value": "fhirpy-no-system"}],
    name=[{"text": "司马迁"}],
    gender="male",
    birthDate="1981-02-03",
)
p.save()
by_mrn = client.resources("Patient").search(identifier=f"{MRN}|fhirpy-12345").fetch()
assert [r.id for r in by_mrn] == [p.id], by_mrn
by_value = client.resources("Patient").search(identifier="fhirpy-no-system").fetch()
assert [r.id for r in by_value] == [p.id], by_value
kept = client.reference("Patient", p.id).to_resource()
assert {"system": MRN, "value": "fhirpy-12345"} in [dict(i) for i in kept["identifier"]], kept

print(json.dumps({"ids": ids, "paged": len(paged), "walked": len(walked), "total": total, "mrn": p.id}))
