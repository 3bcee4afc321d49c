"""Build the audit pack ZIP of the current client schema: a fixed layout, every file hashed into manifest.json,
manifest.json signed with Ed25519 (signature.json).

Layout (in this order in the ZIP):
    README.txt                      what each file is, how to verify
    evidence/<id>-<rev>-<name>      the approved revision of each evidence file, byte for byte
    readiness.json, readiness.pdf   per framework: score, counts, gaps, trend over the period
    matrix.csv                      requirement → control → evidence
    incidents.json, incidents.csv   AI incidents of the period, timeline, notification obligations (UTC)
    audit-trail.jsonl               the client's audit events of the period, exactly the hashed fields
    audit-trail-verification.json   the segment's first/last seq, head hash, verification result
    manifest.json                   every file above with its size and SHA-256 (+ evidence metadata)
    signature.json                  Ed25519 over manifest.json's bytes, the public key, its fingerprint

Evidence shipped: the approved revision of every file evidence linked (control → mapping) to a selected
framework, and every generated evidence file. A stored file whose SHA-256 no longer matches the one recorded
at upload is never shipped: it is listed under `integrity_failed` in the manifest, and the register is told
(apps.compliance.services.revision_verify: audited, alerted, dropped from readiness).

The pack is a snapshot of the register when it is built; the period bounds the audit trail, the incidents
and the readiness trend. Period days are the client's calendar days (its time zone); every time written is UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata

from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F, Prefetch, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .signing import signing_key
from .verify import AUDIT_TRAIL, AUDIT_VERIFICATION, FORMAT, MANIFEST, SIGNATURE, grouped, verify_segment

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MATRIX_HEADER = [
    "framework",
    "framework_version",
    "requirement_ref",
    "requirement_urn",
    "requirement_title",
    "applicability",
    "status",
    "status_reason",
    "control_code",
    "control_name",
    "control_owner",
    "control_status",
    "coverage",
    "evidence_id",
    "evidence_title",
    "evidence_status",
    "evidence_valid",
    "evidence_revision",
    "effective_date",
    "expires_on",
    "sha256",
    "pack_file",
]
INCIDENT_CSV_HEADER = [
    "incident_id",
    "reference",
    "title",
    "kind",
    "severity",
    "status",
    "detected_at",
    "aware_at",
    "closed_at",
    "regime",
    "report",
    "obligation_status",
    "clock_started_at",
    "due_at",
    "due_estimated",
    "submitted_at",
    "submission_reference",
]


def utc(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def keel_version() -> str:
    try:
        return metadata.version("keel")
    except metadata.PackageNotFoundError:
        return "unknown"


def safe_name(name: str) -> str:
    """A plain file name for inside the ZIP (the stored display name is sanitised already; this is belt and
    braces so no entry can carry a path or a character an unzip tool would mangle)."""
    cleaned = SAFE_NAME.sub("_", name or "").strip("._") or "evidence"
    return cleaned[:120]


def json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n").encode()


@dataclass
class Period:
    start: dt.date
    end: dt.date  # included
    tz: dt.tzinfo

    @property
    def start_utc(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.tz).astimezone(dt.UTC)

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive: midnight after the last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz).astimezone(dt.UTC)

    def as_dict(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "time_zone": str(self.tz),
            "start_utc": utc(self.start_utc),
            "end_utc_exclusive": utc(self.end_utc),
        }


class PackWriter:
    """Writes entries to the ZIP with a fixed timestamp and mode, hashing each as it goes."""

    def __init__(self, fileobj, generated_at: dt.datetime):
        self.zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.date_time = generated_at.astimezone(dt.UTC).timetuple()[:6]
        self.entries: list[dict] = []

    def _info(self, path: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def add(self, path: str, data: bytes, *, listed: bool = True, **meta) -> dict:
        self.zip.writestr(self._info(path), data)
        entry = {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **meta}
        if listed:
            self.entries.append(entry)
        return entry

    def add_file(self, path: str, handle, **meta) -> dict:
        digest, size = hashlib.sha256(), 0
        with self.zip.open(self._info(path), "w", force_zip64=True) as out:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        entry = {"path": path, "size": size, "sha256": digest.hexdigest(), **meta}
        self.entries.append(entry)
        return entry

    def close(self) -> None:
        self.zip.close()


@dataclass
class BuildResult:
    generated_at: dt.datetime
    summary: dict
    fingerprint: str
    manifest: dict = field(repr=False, default_factory=dict)


# --- the parts ---------------------------------------------------------------------------------------------------


def _frameworks(cfs) -> list[dict]:
    out = []
    for cf in cfs:
        version = cf.version
        out.append(
            {
                "ref": cf.framework.ref,
                "urn": cf.framework.urn,
                "name": cf.framework.name,
                "short_name": cf.framework.short_name,
                "version": version.version,
                "version_name": version.name,
                "publication": version.publication,
                "licence": version.licence,
                "source_file": version.source,
                "source_sha256": version.sha256,
                "library_current_version": cf.framework.current.version if cf.framework.current else None,
                "roles": list(cf.roles),
                "adopted_at": utc(cf.adopted_at),
                "enabled_at": utc(cf.enabled_at),
            }
        )
    return out


def _readiness(cfs, results: dict, period: Period) -> list[dict]:
    from apps.compliance.models import ReadinessSnapshot

    trend: dict[int, list] = defaultdict(list)
    for snap in ReadinessSnapshot.objects.filter(
        client_framework__in=cfs, day__gte=period.start, day__lte=period.end
    ).order_by("day"):
        trend[snap.client_framework_id].append(
            {
                "day": snap.day.isoformat(),
                "score": str(snap.score) if snap.score is not None else None,
                "gaps": snap.gaps,
                "counts": snap.counts,
                "version": snap.version_number,
            }
        )
    out = []
    for cf in cfs:
        result = results[cf.pk]
        out.append(
            {
                "framework": cf.framework.ref,
                "name": cf.framework.short_name,
                "version": cf.version.version,
                "roles": list(cf.roles),
                "score": str(result.score) if result.score is not None else None,
                "applicable_requirements": result.assessable,
                "counts": dict(result.counts),
                "gap_count": result.gap_count,
                "gaps": {
                    "no_control": [
                        {
                            "ref": r.requirement.ref_id,
                            "urn": r.requirement.urn,
                            "title": r.requirement.title,
                            "reason": r.reason,
                        }
                        for r in result.no_control
                    ],
                    "controls_without_valid_evidence": [
                        {
                            "control": g.control.code,
                            "name": g.control.name,
                            "problems": g.problems,
                            "requirements": [r.ref_id for r in g.requirements],
                        }
                        for g in result.control_gaps
                    ],
                    "evidence_expiring": [
                        {
                            "evidence_id": s.evidence.pk,
                            "title": s.evidence.title,
                            "expires_on": day(s.evidence.expires_on),
                            "days_left": s.days_left,
                        }
                        for s in result.expiring
                    ],
                },
                "trend": trend.get(cf.pk, []),
            }
        )
    return out


def _matrix(cfs, results: dict, shipped: dict[int, str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MATRIX_HEADER)
    for cf in cfs:
        result = results[cf.pk]
        for row in result.rows:
            requirement = row.requirement
            if not requirement.assessable:
                continue
            applies = "not applicable" if row.status == "not_applicable" else "applicable"
            head = [
                cf.framework.ref,
                cf.version.version,
                requirement.ref_id,
                requirement.urn,
                requirement.title,
                applies,
                row.status,
                row.reason,
            ]
            if not row.links:
                writer.writerow(head + [""] * (len(MATRIX_HEADER) - len(head)))
                continue
            for link in row.links:
                control = link.control
                control_cells = [control.code, control.name, control.owner_email, control.status, link.coverage]
                if not link.evidence:
                    writer.writerow(head + control_cells + [""] * (len(MATRIX_HEADER) - len(head) - len(control_cells)))
                    continue
                for state in link.evidence:
                    evidence = state.evidence
                    revision = evidence.current_revision
                    writer.writerow(
                        head
                        + control_cells
                        + [
                            evidence.pk,
                            evidence.title,
                            evidence.status,
                            "yes" if state.valid else "no: " + "; ".join(state.problems),
                            revision.number if revision else "",
                            day(revision.effective_date) if revision else "",
                            day(evidence.expires_on) or "",
                            revision.sha256 if revision else "",
                            shipped.get(evidence.pk, ""),
                        ]
                    )
    return buffer.getvalue().encode()


def _incidents(period: Period) -> list[dict]:
    from apps.incidents.models import AIIncident, IncidentEvent, Obligation
    from apps.incidents.regimes import load_regimes

    book = load_regimes()
    incidents = (
        AIIncident.objects.filter(detected_at__lt=period.end_utc)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=period.start_utc))
        .prefetch_related(
            "assets",
            Prefetch("events", queryset=IncidentEvent.objects.order_by("at", "id")),
            Prefetch("obligations", queryset=Obligation.objects.order_by("regime", "position", "id")),
        )
        .order_by("aware_at", "id")
    )

    def regime_name(regime_id: str) -> str:
        regime = book.get(regime_id)
        return regime.name if regime else regime_id

    def report_name(regime_id: str, report_id: str) -> str:
        regime = book.get(regime_id)
        try:
            return regime.report(report_id).name if regime else report_id
        except KeyError:
            return report_id

    out = []
    for incident in incidents:
        out.append(
            {
                "id": incident.pk,
                "reference": incident.reference,
                "title": incident.title,
                "kind": incident.kind,
                "severity": incident.severity,
                "status": incident.status,
                "assets": [{"id": a.pk, "name": a.name, "kind": a.kind} for a in incident.assets.all()],
                "occurred_at": utc(incident.occurred_at),
                "detected_at": utc(incident.detected_at),
                "aware_at": utc(incident.aware_at),
                "classified_major_at": utc(incident.classified_major_at),
                "breach_determined_at": utc(incident.breach_determined_at),
                "closed_at": utc(incident.closed_at),
                "personal_data": incident.personal_data,
                "personal_data_categories": list(incident.personal_data_categories),
                "people_affected": incident.people_affected,
                "description": incident.description,
                "root_cause": incident.root_cause,
                "remediation": incident.remediation,
                "lessons_learned": incident.lessons_learned,
                "owner_email": incident.owner_email,
                "source": {"kind": incident.source_kind, "id": incident.source_id, "label": incident.source_label},
                "regimes": list(incident.regimes),
                "flags": list(incident.flags),
                "timeline": [
                    {"at": utc(e.at), "kind": e.kind, "text": e.text, "actor": e.actor, "data": e.data}
                    for e in incident.events.all()
                ],
                "obligations": [
                    {
                        "regime": o.regime,
                        "regime_name": regime_name(o.regime),
                        "report": o.report,
                        "report_name": report_name(o.regime, o.report),
                        "status": o.status,
                        "clock_starts_on": o.t0_event,
                        "clock_started_at": utc(o.t0_at),
                        "due_kind": o.due_kind,
                        "due_at": utc(o.due_at),
                        "base_due_at": utc(o.base_due_at),
                        "due_estimated": o.due_estimated,
                        "keep_until": utc(o.keep_until),
                        "submitted_at": utc(o.submitted_at),
                        "first_submitted_at": utc(o.first_submitted_at),
                        "submissions": o.submissions,
                        "submission_reference": o.reference,
                        "submitted_by": o.submitted_by,
                        "not_required_reason": o.not_required_reason,
                    }
                    for o in incident.obligations.all()
                ],
            }
        )
    return out


def _incidents_csv(incidents: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INCIDENT_CSV_HEADER)
    for i in incidents:
        head = [i["id"], i["reference"], i["title"], i["kind"], i["severity"], i["status"]]
        head += [i["detected_at"], i["aware_at"], i["closed_at"] or ""]
        if not i["obligations"]:
            writer.writerow(head + [""] * (len(INCIDENT_CSV_HEADER) - len(head)))
        for o in i["obligations"]:
            writer.writerow(
                head
                + [
                    o["regime"],
                    o["report"],
                    o["status"],
                    o["clock_started_at"] or "",
                    o["due_at"] or "",
                    "yes" if o["due_estimated"] else "no",
                    o["submitted_at"] or "",
                    o["submission_reference"],
                ]
            )
    return buffer.getvalue().encode()


def _audit_trail(period: Period, head_seq: int | None) -> tuple[bytes, dict]:
    """The contiguous run of events from the first one on or after the period's start to the last one before
    its end (bounded by the chain head when the build started), with the segment's verification."""
    from apps.audit.models import AuditEvent
    from apps.audit.selectors import audit_chain_verify
    from apps.audit.services import hashed_payload

    bounds = AuditEvent.objects.filter(occurred_at__gte=period.start_utc, occurred_at__lt=period.end_utc)
    if head_seq is not None:
        bounds = bounds.filter(seq__lte=head_seq)
    first = bounds.order_by("seq").values_list("seq", flat=True).first()
    last = bounds.order_by("-seq").values_list("seq", flat=True).first()
    lines, events = [], []
    if first is not None:
        for event in AuditEvent.objects.filter(seq__gte=first, seq__lte=last).order_by("seq").iterator(chunk_size=2000):
            record = {**hashed_payload(event), "prev_hash": event.prev_hash, "hash": event.hash}
            events.append(record)
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    segment = verify_segment(events)
    whole = audit_chain_verify()
    verification = {
        "method": "hash = SHA-256(prev_hash as ASCII hex ‖ RFC 8785 canonical JSON of the event without prev_hash "
        "and hash); each event's prev_hash is the previous event's hash; event #1 follows 64 zeros",
        "period": period.as_dict(),
        "first_seq": segment.first_seq,
        "last_seq": segment.last_seq,
        "count": segment.count,
        "anchor_hash": segment.anchor_hash or None,
        "head_hash": segment.head_hash or None,
        "segment_verified": segment.ok,
        "segment_problems": [{"seq": seq, "problem": message} for seq, message in segment.problems],
        "chain_at_build": {
            "verified": whole.ok,
            "events_checked": whole.checked,
            "head_seq": whole.head_seq,
            "head_hash": whole.head_hash,
            "result": whole.describe(),
        },
    }
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    return data, verification


@dataclass
class EvidenceFile:
    revision: object
    requirements: list[dict]


def _evidence_revisions(cfs) -> list[EvidenceFile]:
    """Approved revisions (with a file) of evidence linked to the selected frameworks, and of generated
    evidence, with the requirements each proves."""
    from apps.compliance.models import ControlMapping, Evidence, EvidenceRevision
    from apps.compliance.selectors import requirements_by_urn

    framework_ids = {cf.framework_id for cf in cfs}
    versions = {cf.framework_id: cf.version_id for cf in cfs}
    mappings = list(
        ControlMapping.objects.filter(framework_id__in=framework_ids).select_related("control").order_by("urn")
    )
    by_control: dict[int, list] = defaultdict(list)
    for m in mappings:
        by_control[m.control_id].append(m)
    refs = {cf.framework_id: cf.framework.ref for cf in cfs}
    by_urn = requirements_by_urn({m.urn for m in mappings}, versions=versions)
    revisions = (
        EvidenceRevision.objects.filter(
            evidence__status=Evidence.Status.APPROVED, number=F("evidence__approved_revision")
        )
        .exclude(file_name="")
        .select_related("evidence")
        .prefetch_related("evidence__controls")
        .order_by("evidence_id")
    )
    out = []
    for revision in revisions:
        evidence = revision.evidence
        requirements, seen = [], set()
        for control in evidence.controls.all():
            for m in by_control.get(control.pk, []):
                if m.urn in seen:
                    continue
                seen.add(m.urn)
                requirement = by_urn.get(m.urn)
                requirements.append(
                    {
                        "framework": refs.get(m.framework_id, ""),
                        "urn": m.urn,
                        "ref": requirement.ref_id if requirement else "",
                    }
                )
        if requirements or evidence.kind == Evidence.Kind.GENERATED:
            out.append(EvidenceFile(revision, requirements))
    return out


def _evidence_meta(item: EvidenceFile) -> dict:
    revision, evidence = item.revision, item.revision.evidence
    return {
        "evidence_id": evidence.pk,
        "title": evidence.title,
        "kind": evidence.kind,
        "generator": evidence.generator,
        "revision": revision.number,
        "original_name": revision.display_name,
        "effective_date": day(revision.effective_date),
        "expires_on": day(evidence.expires_on),
        "status": evidence.status,
        "approved_by": evidence.approved_by,
        "approved_at": utc(evidence.approved_at),
        "self_approved": evidence.self_approved,
        "uploaded_by": revision.uploaded_by,
        "uploaded_at": utc(revision.uploaded_at),
        "recorded_sha256": revision.sha256,
        "controls": sorted(c.code for c in evidence.controls.all()),
        "requirements": item.requirements,
    }


def _copy_checked(revision, spool) -> tuple[str | None, int]:
    """Copy the stored bytes into `spool` while hashing them (one read: what is checked is what ships);
    (None, 0) when the file is gone."""
    if not default_storage.exists(revision.file_name):
        return None, 0
    digest, size = hashlib.sha256(), 0
    with default_storage.open(revision.file_name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            spool.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    spool.seek(0)
    return digest.hexdigest(), size


def _record_integrity_failure(revision) -> None:
    from apps.compliance.services import revision_verify

    try:
        revision_verify(revision=revision)  # audited, alerted, drops out of readiness
    except Exception:  # the pack still says integrity_failed; the daily check will retry
        logger.exception("could not record the integrity failure of evidence revision %s", revision.pk)


def _readme(manifest: dict, fingerprint: str, public_key_b64: str) -> bytes:
    text = render_to_string(
        "auditpacks/README.txt",
        {"m": manifest, "fingerprint": grouped(fingerprint), "public_key": public_key_b64},
    )
    return text.encode()


TREND_ROWS = 60


def _thin(points: list[dict]) -> list[dict]:
    """At most about TREND_ROWS rows on paper: every n-th day and the last (readiness.json has them all)."""
    if len(points) <= TREND_ROWS:
        return points
    step = -(-len(points) // TREND_ROWS)
    kept = points[::step]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def _pdf(client, period: Period, readiness: list[dict], generated_at: dt.datetime) -> bytes:
    from weasyprint import HTML

    shown = [{**f, "trend_shown": _thin(f["trend"]), "trend_thinned": len(f["trend"]) > TREND_ROWS} for f in readiness]
    html = render_to_string(
        "auditpacks/readiness_pdf.html",
        {"client": client, "period": period, "frameworks": shown, "generated_at": utc(generated_at)},
    )
    return HTML(string=html).write_pdf()


# --- the whole pack ----------------------------------------------------------------------------------------------


def build_zip(
    fileobj, *, period: Period, client_frameworks, generated_by: str, msp: str = "", head_seq: int | None = None
) -> BuildResult:
    """Write the pack into `fileobj` (a binary file opened for writing)."""
    from apps.compliance.selectors import readiness_many
    from apps.tenancy.selectors import current_client

    client = current_client()
    key = signing_key()
    generated_at = timezone.now().replace(microsecond=0)
    cfs = list(client_frameworks)
    evidence = _evidence_revisions(cfs)
    writer = PackWriter(fileobj, generated_at)
    manifest: dict = {
        "format": FORMAT,
        "client": {
            "name": client.name if client else connection.schema_name,
            "slug": client.slug if client else connection.schema_name,
            "schema": connection.schema_name,
            "time_zone": client.time_zone if client else "UTC",
        },
        "generated_at": utc(generated_at),
        "generated_by": generated_by,
        "msp": msp,
        "period": period.as_dict(),
        "keel_version": keel_version(),
        "frameworks": _frameworks(cfs),
    }

    writer.add("README.txt", _readme(manifest, key.fingerprint, key.public_key_b64), role="readme")

    shipped: dict[int, str] = {}
    failed: list[dict] = []
    for item in evidence:
        revision = item.revision
        meta = _evidence_meta(item)
        path = f"evidence/{revision.evidence_id}-{revision.number}-{safe_name(revision.display_name)}"
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            digest, size = _copy_checked(revision, spool)
            if digest == revision.sha256 and size == revision.size:
                writer.add_file(path, spool, role="evidence", evidence=meta)
                shipped[revision.evidence_id] = path
                continue
        failed.append(
            {
                **meta,
                "recorded_size": revision.size,
                "found_sha256": digest,
                "found_size": size,
                "problem": "the stored file is missing"
                if digest is None
                else "the stored file's SHA-256 no longer matches the one recorded when it was stored",
            }
        )
        _record_integrity_failure(revision)

    # Readiness after the files were checked: one that failed just now no longer counts.
    results = readiness_many(cfs)
    readiness = _readiness(cfs, results, period)
    writer.add(
        "readiness.json", json_bytes({"generated_at": utc(generated_at), "frameworks": readiness}), role="readiness"
    )
    writer.add("readiness.pdf", _pdf(client, period, readiness, generated_at), role="readiness")
    writer.add("matrix.csv", _matrix(cfs, results, shipped), role="matrix")
    incidents = _incidents(period)
    writer.add(
        "incidents.json",
        json_bytes({"period": period.as_dict(), "count": len(incidents), "incidents": incidents}),
        role="incidents",
    )
    writer.add("incidents.csv", _incidents_csv(incidents), role="incidents")
    trail, verification = _audit_trail(period, head_seq)
    writer.add(AUDIT_TRAIL, trail, role="audit_trail")
    writer.add(AUDIT_VERIFICATION, json_bytes(verification), role="audit_trail")

    summary = {
        "files": len(writer.entries),
        "evidence_files": len(shipped),
        "integrity_failed": len(failed),
        "frameworks": [
            {"ref": f["ref"], "short_name": f["short_name"], "version": f["version"]} for f in manifest["frameworks"]
        ],
        "readiness": {r["framework"]: r["score"] for r in readiness},
        "incidents": len(incidents),
        "audit_trail": {
            "first_seq": verification["first_seq"],
            "last_seq": verification["last_seq"],
            "count": verification["count"],
            "head_hash": verification["head_hash"],
            "verified": verification["segment_verified"],
        },
    }
    manifest["summary"] = summary
    manifest["integrity_failed"] = failed
    manifest["files"] = writer.entries
    manifest_bytes = json_bytes(manifest)
    writer.add(MANIFEST, manifest_bytes, listed=False)
    signature = {
        "algorithm": "Ed25519",
        "signed_file": MANIFEST,
        "signature": key.sign(manifest_bytes),
        "public_key": key.public_key_b64,
        "public_key_encoding": "base64 of the raw 32-byte Ed25519 public key",
        "fingerprint": key.fingerprint,
        "fingerprint_method": "SHA-256 of the raw public key, hex",
        "key_source": key.source,
    }
    writer.add(SIGNATURE, json_bytes(signature), listed=False)
    writer.close()
    failed_summary = [{"evidence_id": f["evidence_id"], "revision": f["revision"], "title": f["title"]} for f in failed]
    return BuildResult(generated_at, {**summary, "integrity_failed_items": failed_summary}, key.fingerprint, manifest)
