"""The framework library API (read-only) at /api/v1/ and in every client's /c/<slug>/api/v1/: list, detail,
requirements with filters and cursor pages, versions with changes, the crosswalk; who may read it; query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.frameworks.library import framework_load
from tests.conftest import auth_header, make_user

from .conftest import SMALL_V2

MSP = "/api/v1/"
ALPHA = "/c/alpha/api/v1/"
PROBLEM = "application/problem+json"


@pytest.fixture
def reader(alpha, api_key_for):
    """alpha's API key with the read scope only."""
    return auth_header(api_key_for(alpha, ["read"])[1])


def _all(http, url: str, **headers) -> list[dict]:
    rows = []
    while url:
        body = http.get(url, **headers).json()
        rows += body["results"]
        url = body["next"]
    return rows


def test_the_list_gives_each_framework_with_its_current_version(library, staff):
    response = staff.get(f"{MSP}frameworks/")
    assert response.status_code == 200
    rows = {row["ref"]: row for row in response.json()["results"]}
    assert set(rows) >= {"eu-ai-act", "iso-42001", "nist-ai-rmf", "nis2", "dora", "pipeda"}
    nist = rows["nist-ai-rmf"]
    assert nist["urn"] == "urn:keel:fw:nist-ai-rmf" and nist["audience"] == "client"
    assert nist["current"]["version"] == 1 and nist["current"]["requirement_count"] == 95
    assert rows["nis2"]["audience"] == "msp" and "metadata" not in nist["current"]


def test_the_detail_has_the_metadata(library, staff):
    body = staff.get(f"{MSP}frameworks/eu-ai-act/").json()
    dates = body["current"]["metadata"]["application_dates"]
    assert dates["high_risk_annex_III"] == {"original": "2026-08-02", "digital_omnibus": "2027-12-02"}
    assert body["current"]["roles"][:2] == ["provider", "deployer"]
    assert staff.get(f"{MSP}frameworks/nope/")["Content-Type"] == PROBLEM
    assert staff.get(f"{MSP}frameworks/nope/").status_code == 404


def test_requirements_are_flat_with_parent_and_depth_in_file_order(library, staff):
    rows = _all(staff, f"{MSP}frameworks/nist-ai-rmf/requirements/?page_size=40")
    assert len(rows) == 95 and [r["position"] for r in rows] == list(range(1, 96))
    by_urn = {r["urn"]: r for r in rows}
    gv16 = by_urn["urn:keel:fw:nist-ai-rmf:govern-1-6"]
    assert (gv16["ref_id"], gv16["depth"], gv16["parent_urn"]) == ("GOVERN 1.6", 3, "urn:keel:fw:nist-ai-rmf:govern-1")
    assert (gv16["framework"], gv16["version"], gv16["review_frequency"]) == ("nist-ai-rmf", 1, "P3M")
    assert by_urn["urn:keel:fw:nist-ai-rmf:govern-1"]["parent_urn"] == "urn:keel:fw:nist-ai-rmf:govern"


def test_requirement_filters(library, staff):
    url = f"{MSP}frameworks/eu-ai-act/requirements/?page_size=500"
    deployer = {r["ref_id"] for r in staff.get(f"{url}&role=deployer&risk_tier=high").json()["results"]}
    assert {"Art 26(6)", "Art 27(1)", "Art 4"} <= deployer and "Art 9" not in deployer
    both = {r["ref_id"] for r in staff.get(f"{url}&role=provider,deployer&risk_tier=high").json()["results"]}
    assert {"Art 9", "Art 26(6)"} <= both
    datasets = {r["ref_id"] for r in staff.get(f"{url}&asset_type=dataset").json()["results"]}
    assert "Art 10" in datasets and "Art 12" not in datasets and "Art 4" in datasets
    found = staff.get(f"{url}&search=record-keeping").json()["results"]
    assert {r["ref_id"] for r in found} >= {"Art 12", "Art 17(1)(k)"}
    assert all(r["ref_id"] != "Art 4" for r in found)


def test_bad_filters_are_problems(library, staff):
    url = f"{MSP}frameworks/nist-ai-rmf/requirements/"
    role = staff.get(f"{url}?role=deployer")
    assert role.status_code == 400 and role["Content-Type"] == PROBLEM
    assert "not among NIST AI RMF's roles (organisation)" in str(role.json()["errors"])
    assert staff.get(f"{url}?asset_type=spaceship").status_code == 400
    assert "has no version 9" in str(staff.get(f"{url}?version=9").json()["errors"])
    assert staff.get(f"{MSP}frameworks/nope/requirements/").status_code == 404


def test_versions_with_changes_and_an_older_versions_requirements(small, staff):
    framework_load(SMALL_V2, loaded_by="test")
    rows = staff.get(f"{MSP}frameworks/small/versions/").json()["results"]
    assert [r["version"] for r in rows] == [2, 1]
    assert rows[0]["changes"] == {
        "previous_version": 1,
        "added": ["urn:keel:fw:small:3"],
        "removed": ["urn:keel:fw:small:2"],
        "changed": [{"urn": "urn:keel:fw:small:1-2", "fields": ["title", "review_frequency"]}],
    }
    assert rows[1]["changes"]["previous_version"] is None and len(rows[1]["changes"]["added"]) == 4
    current = [r["ref_id"] for r in staff.get(f"{MSP}frameworks/small/requirements/").json()["results"]]
    older = [r["ref_id"] for r in staff.get(f"{MSP}frameworks/small/requirements/?version=1").json()["results"]]
    assert current == ["1", "1.1", "1.2", "3"] and older == ["1", "1.1", "1.2", "2"]


def test_the_crosswalk_both_ways(library, staff):
    body = staff.get(f"{MSP}requirements/urn:keel:fw:eu-ai-act:art-12/crosswalk/").json()
    assert body["requirement"] == {
        "urn": "urn:keel:fw:eu-ai-act:art-12",
        "framework": "eu-ai-act",
        "version": 1,
        "ref_id": "Art 12",
        "title": "Record-keeping",
        "assessable": True,
    }
    links = {(link["requirement"]["urn"], link["direction"], link["relation"]) for link in body["links"]}
    assert ("urn:keel:fw:iso-42001:a-6-2-8", "incoming", "intersect") in links
    assert ("urn:keel:fw:nist-ai-rmf:measure-2-4", "incoming", "intersect") in links
    outgoing = staff.get(f"{MSP}requirements/urn:keel:fw:iso-42001:a-6-2-8/crosswalk").json()["links"]
    assert {"urn:keel:fw:eu-ai-act:art-12", "urn:keel:fw:eu-ai-act:art-19"} <= {
        link["requirement"]["urn"] for link in outgoing if link["direction"] == "outgoing"
    }
    missing = staff.get(f"{MSP}requirements/urn:keel:fw:eu-ai-act:art-999/crosswalk/")
    assert missing.status_code == 404 and missing["Content-Type"] == PROBLEM


def test_a_client_read_key_reads_the_library(library, client, reader):
    listing = client.get(f"{ALPHA}frameworks/", **reader)
    assert listing.status_code == 200 and {r["ref"] for r in listing.json()["results"]} >= {"eu-ai-act", "pipeda"}
    assert client.get(f"{ALPHA}frameworks/iso-42001/", **reader).json()["current"]["requirement_count"] == 85
    rows = client.get(f"{ALPHA}frameworks/eu-ai-act/requirements/?role=deployer", **reader).json()["results"]
    assert rows and all(not r["roles"] or "deployer" in r["roles"] for r in rows)
    assert client.get(f"{ALPHA}frameworks/eu-ai-act/versions/", **reader).status_code == 200
    crosswalk = client.get(f"{ALPHA}requirements/urn:keel:fw:eu-ai-act:art-12/crosswalk/", **reader)
    assert crosswalk.status_code == 200 and crosswalk.json()["links"]


def test_who_may_read_in_a_client(library, alpha, client, api_key_for, login_as):
    auditor = make_user(
        "fw-aud@alpha.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + timedelta(days=3)
    )
    assert login_as(auditor).get(f"{ALPHA}frameworks/").status_code == 200  # the register's readers
    viewer = make_user("fw-viewer@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    assert login_as(viewer).get(f"{ALPHA}frameworks/nis2/").status_code == 200
    ingest_only = auth_header(api_key_for(alpha, ["ingest"])[1])
    denied = client.get(f"{ALPHA}frameworks/", **ingest_only)
    assert denied.status_code == 403 and denied["Content-Type"] == PROBLEM


def test_msp_keys_read_and_nobody_writes(library, staff, client, api_key_for, reader):
    msp_key = auth_header(api_key_for(None)[1])
    assert client.get(f"{MSP}frameworks/", **msp_key).status_code == 200
    assert client.get(f"{MSP}frameworks/", **reader).status_code == 404  # a client key never reaches the MSP API
    for url in (f"{MSP}frameworks/", f"{MSP}frameworks/eu-ai-act/"):
        assert staff.post(url, {}, content_type="application/json").status_code in (403, 405)
        assert staff.delete(url).status_code in (403, 405)
    assert client.post(f"{ALPHA}frameworks/", {}, content_type="application/json", **reader).status_code in (403, 405)


def _count(http, url, headers, selects) -> int:
    http.get(url, **headers)  # warm: the key's first use stamps last_used_at
    with selects() as queries:
        assert http.get(url, **headers).status_code == 200, url
    return queries.count


def test_query_counts_do_not_grow_with_the_rows(small, client, reader, selects, django_assert_max_num_queries):
    one_framework = _count(client, f"{ALPHA}frameworks/", reader, selects)
    one_version = _count(client, f"{ALPHA}frameworks/small/versions/", reader, selects)
    framework_load(SMALL_V2, loaded_by="test")
    from apps.frameworks.library import frameworks_load_bundled

    frameworks_load_bundled(loaded_by="test")
    assert _count(client, f"{ALPHA}frameworks/", reader, selects) == one_framework  # 1 → 9 frameworks
    assert _count(client, f"{ALPHA}frameworks/small/versions/", reader, selects) == one_version  # 1 → 2 versions
    few = _count(client, f"{ALPHA}frameworks/eu-ai-act/requirements/?page_size=3", reader, selects)
    assert _count(client, f"{ALPHA}frameworks/eu-ai-act/requirements/?page_size=200", reader, selects) == few
    sparse = _count(client, f"{ALPHA}requirements/urn:keel:fw:pipeda:4-1/crosswalk/", reader, selects)
    assert _count(client, f"{ALPHA}requirements/urn:keel:fw:eu-ai-act:art-12/crosswalk/", reader, selects) == sparse
    with django_assert_max_num_queries(15):
        client.get(f"{ALPHA}frameworks/eu-ai-act/requirements/?page_size=200", **reader)
