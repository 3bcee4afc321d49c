"""The incident API: create, read, change (no delete), filters, timeline and obligations with their clocks, the
submit / not-required / reopen actions, the regimes, scopes (read cannot write), another client's ids 404,
and list query counts that do not grow."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.incidents.models import AIIncident
from tests.conftest import auth_header
from tests.incidents.conftest import NOW, make_incident, obligation

API = "/c/alpha/api/v1/"
pytestmark = pytest.mark.usefixtures("in_alpha", "clock")


@pytest.fixture
def keys(alpha, api_key_for):
    _, read = api_key_for(alpha, ["read"])
    _, write = api_key_for(alpha, ["read", "write"])
    return {"read": auth_header(read), "write": auth_header(write)}


def test_create_read_and_change_an_incident(client, keys):
    created = client.post(
        f"{API}incidents/",
        {
            "title": "Agent refunded fees it should not have",
            "kind": "unsafe_action",
            "severity": "critical",
            "detected_at": "2026-12-02T08:00:00Z",
            "aware_at": "2026-12-02T08:30:00+01:00",
            "regimes": ["nis2-art23"],
            "owner_email": "Ops@Alpha.test",
        },
        content_type="application/json",
        **keys["write"],
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["reference"] == f"AI-{data['id']}" and data["aware_at"] == "2026-12-02T07:30:00Z"
    assert data["owner_email"] == "ops@alpha.test"
    early = next(o for o in data["obligations"] if o["report"] == "early_warning")
    assert early["due_at"] == "2026-12-03T07:30:00Z" and early["due_at_local"] == "2026-12-03T08:30:00+01:00"
    assert (early["state"], early["label"], early["recipient"]) == (
        "running",
        "due in 21 h 30 min",
        "CSIRT or competent authority",
    )

    changed = client.patch(
        f"{API}incidents/{data['id']}/",
        {"aware_at": "2026-12-02T06:30:00Z", "status": "investigating"},
        content_type="application/json",
        **keys["write"],
    )
    assert changed.status_code == 200, changed.json()
    early = next(o for o in changed.json()["obligations"] if o["report"] == "early_warning")
    assert early["due_at"] == "2026-12-03T06:30:00Z"  # the clock followed the correction
    assert changed.json()["regimes"] == ["nis2-art23"] and changed.json()["title"].startswith("Agent refunded")
    assert client.delete(f"{API}incidents/{data['id']}/", **keys["write"]).status_code == 405
    timeline = client.get(f"{API}incidents/{data['id']}/timeline/", **keys["read"]).json()
    assert [e["kind"] for e in timeline][:2] == ["created", "note"]
    assert any(e["kind"] == "status" for e in timeline)
    actions = set(AuditEvent.objects.filter(object_type="incidents.aiincident").values_list("action", flat=True))
    assert actions == {"incident.create", "incident.update"}


def test_bad_input_answers_400_on_the_field(client, keys):
    response = client.post(
        f"{API}incidents/",
        {
            "title": "x",
            "kind": "bias",
            "detected_at": "2026-12-02T08:00:00Z",
            "aware_at": "2026-12-09T08:00:00Z",
            "regimes": ["gdpr"],
        },
        content_type="application/json",
        **keys["write"],
    )
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"] if "errors" in response.json() else response.json()
    assert "aware_at" in str(errors) and "regimes" in str(errors)
    assert not AIIncident.objects.exists()


def test_a_read_key_reads_and_cannot_write(client, keys):
    incident = make_incident(regimes=["gdpr-art33-34"], personal_data=True)
    notify = obligation(incident, "gdpr-art33-34", "authority_notification")
    assert client.get(f"{API}incidents/{incident.pk}/", **keys["read"]).status_code == 200
    assert (
        client.patch(
            f"{API}incidents/{incident.pk}/", {"title": "y"}, content_type="application/json", **keys["read"]
        ).status_code
        == 403
    )
    submit = client.post(
        f"{API}incidents/{incident.pk}/obligations/{notify.pk}/submit/",
        {},
        content_type="application/json",
        **keys["read"],
    )
    assert submit.status_code == 403
    notify.refresh_from_db()
    assert notify.status == "pending"


def test_obligation_actions_over_the_api(client, keys):
    incident = make_incident(
        kind="outage", regimes=["dora-art19", "gdpr-art33-34"], personal_data=True, classified_major_at=NOW
    )
    base = f"{API}incidents/{incident.pk}/obligations/"
    listed = client.get(base, **keys["read"]).json()
    by_report = {o["report"]: o for o in listed}
    assert by_report["initial_notification"]["due_at"] == "2026-12-02T14:00:00Z"
    assert by_report["intermediate_report"]["due_estimated"] is True
    assert by_report["breach_documentation"]["kind"] == "record"

    initial = by_report["initial_notification"]["id"]
    sent = client.post(
        f"{base}{initial}/submit/",
        {"submitted_at": "2026-12-02T09:50:00Z", "reference": "AMF-1"},
        content_type="application/json",
        **keys["write"],
    )
    assert sent.status_code == 200, sent.json()
    assert (sent.json()["status"], sent.json()["reference"], sent.json()["state"]) == (
        "submitted",
        "AMF-1",
        "submitted",
    )
    after = {o["report"]: o for o in client.get(base, **keys["read"]).json()}
    assert after["intermediate_report"]["t0_at"] == "2026-12-02T09:50:00Z"
    assert after["intermediate_report"]["due_at"] == "2026-12-05T09:50:00Z"

    gdpr = by_report["authority_notification"]["id"]
    short = client.post(
        f"{base}{gdpr}/not-required/", {"reason": "no"}, content_type="application/json", **keys["write"]
    )
    assert short.status_code == 400
    done = client.post(
        f"{base}{gdpr}/not-required/",
        {"reason": "Unlikely to result in a risk: pseudonymised telemetry only."},
        content_type="application/json",
        **keys["write"],
    )
    assert done.json()["status"] == "not_required"
    reopened = client.post(f"{base}{gdpr}/reopen/", {}, content_type="application/json", **keys["write"])
    assert reopened.json()["status"] == "pending"
    again = client.post(f"{base}{initial}/submit/", {}, content_type="application/json", **keys["write"])
    assert again.status_code == 400 and "no updates" in str(again.json())
    assert client.post(f"{base}999999/submit/", {}, content_type="application/json", **keys["write"]).status_code == 404


def test_filters_and_list_queries(client, keys, alpha, django_assert_max_num_queries):
    make_incident(title="Bias in scoring", kind="bias", regimes=["eu-ai-act-art73"])
    make_incident(title="Runaway", kind="cost_runaway", status="closed")
    client.get(f"{API}incidents/", **keys["read"])
    with django_assert_max_num_queries(30) as few:
        response = client.get(f"{API}incidents/", **keys["read"])
    assert [i["title"] for i in response.json()["results"]] == ["Runaway", "Bias in scoring"]
    with schema_context(alpha.schema_name):
        for n in range(10):
            make_incident(title=f"More {n}", kind="outage", regimes=["dora-art19", "nis2-art23"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"{API}incidents/", **keys["read"])
    assert len(response.json()["results"]) == 12
    active = client.get(f"{API}incidents/", {"status": "active", "kind": "bias"}, **keys["read"]).json()["results"]
    assert [i["title"] for i in active] == ["Bias in scoring"]
    by_regime = client.get(f"{API}incidents/", {"regime": "eu-ai-act-art73"}, **keys["read"]).json()["results"]
    assert [i["title"] for i in by_regime] == ["Bias in scoring"]


def test_the_regimes_are_readable(client, keys):
    regimes = client.get(f"{API}incident-regimes/", **keys["read"]).json()
    dora = next(r for r in regimes if r["id"] == "dora-art19")
    initial = dora["reports"][0]
    assert (initial["deadline"], initial["cap"], initial["weekend_rule"]) == (
        "PT4H",
        {"t0": "awareness", "deadline": "PT24H"},
        "next_working_day_noon",
    )
    one = client.get(f"{API}incident-regimes/pipeda-s10-1/", **keys["read"]).json()
    assert one["reports"][-1]["retention"] == "P24M"
    assert client.get(f"{API}incident-regimes/nope/", **keys["read"]).status_code == 404


def test_another_clients_incident_is_not_found(client, beta, keys):
    with schema_context(beta.schema_name):
        theirs = make_incident(title="Beta's", regimes=["nis2-art23"])
        early = obligation(theirs, "nis2-art23", "early_warning")
    assert client.get(f"{API}incidents/{theirs.pk}/", **keys["read"]).status_code == 404
    assert client.get(f"{API}incidents/{theirs.pk}/timeline/", **keys["read"]).status_code == 404
    post = client.post(
        f"{API}incidents/{theirs.pk}/obligations/{early.pk}/submit/",
        {},
        content_type="application/json",
        **keys["write"],
    )
    assert post.status_code == 404
    with schema_context(beta.schema_name):
        early.refresh_from_db()
        assert early.status == "pending"


def test_the_openapi_document_describes_the_incident_routes(client):
    import yaml

    document = yaml.safe_load(client.get("/api/schema/").content)
    paths = document["paths"]
    assert "/c/{client}/api/v1/incidents/{id}/obligations/{obligation_id}/submit/" in paths
    assert "delete" not in paths["/c/{client}/api/v1/incidents/{id}/"]
    assert "/c/{client}/api/v1/incident-regimes/" in paths
