"""Shapes of the FOCUS export API: its query parameters (shared with the portal download) and documentation.

Serializers shape and type-check; apps.finops.export reads the ledger and writes the file."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from ..export import FILTER_COLUMNS, FORMATS, MAX_RANGE_DAYS, ExportQuery
from ..selectors import EXPLORER_DIMENSIONS


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


FILTER_HELP = {name: f"{EXPLORER_DIMENSIONS[name][0]}: exact value." for name in FILTER_COLUMNS}


class FocusExportParamsSerializer(serializers.Serializer):
    """?start=&end=&format= and the explorer's filters. Dates are UTC charge days; `end` is exclusive."""

    start = serializers.DateField(
        required=False, help_text="First UTC charge day (inclusive). Default: the 1st of the current month."
    )
    end = serializers.DateField(
        required=False, help_text="UTC charge day after the last one (exclusive). Default: the month after `start`."
    )
    format = serializers.ChoiceField(choices=FORMATS, default="csv", help_text="`csv` (streamed) or `parquet`.")
    source = serializers.CharField(required=False, allow_blank=True, help_text="A billing source's name, exact.")
    source_id = serializers.IntegerField(required=False, min_value=1, help_text="A billing source's id.")
    tag = serializers.CharField(
        required=False, allow_blank=True, max_length=400, help_text="`key` (rows carrying the tag) or `key=value`."
    )

    def get_fields(self):
        fields = super().get_fields()
        # The other FinOps reads (cost-records, cost-explorer) call the same days from/to: both spellings work.
        fields["from"] = serializers.DateField(required=False, source="from_", help_text="= start.")
        fields["to"] = serializers.DateField(required=False, source="to_", help_text="= end (exclusive).")
        for name, help_text in FILTER_HELP.items():
            fields[name] = serializers.CharField(required=False, allow_blank=True, max_length=400, help_text=help_text)
        return fields

    def validate(self, attrs):
        for alias, name in (("from_", "start"), ("to_", "end")):
            if alias in attrs:
                if name in attrs and attrs[name] != attrs[alias]:
                    raise serializers.ValidationError({name: f"Give `{name}` or `{alias[:-1]}`, not both."})
                attrs[name] = attrs.pop(alias)
        start = attrs.get("start") or (month_start(attrs["end"] - dt.timedelta(days=1)) if "end" in attrs else None)
        start = start or month_start(utc_today())
        end = attrs.get("end") or next_month(start)
        if end <= start:
            raise serializers.ValidationError({"end": "`end` must be after `start` (it is exclusive)."})
        if (end - start).days > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"end": f"At most {MAX_RANGE_DAYS} days in one export."})
        attrs["start"], attrs["end"] = start, end
        return attrs

    def export_query(self) -> ExportQuery:
        data = self.validated_data
        key, _, value = (data.get("tag") or "").partition("=")
        return ExportQuery(
            start=data["start"],
            end=data["end"],
            filters={name: data[name] for name in FILTER_COLUMNS if data.get(name)},
            source_id=data.get("source_id"),
            source_name=data.get("source") or "",
            tag_key=key.strip(),
            tag_value=value.strip(),
        )


class ExportProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)
