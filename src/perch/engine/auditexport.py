"""The audit trail as data people take away: one record as JSON, and every record of a search
as JSON lines or CSV. The API's export and the web UI's download both write these, so the two
give the same file for the same filters."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from perch.engine.auditlog import AuditRecord

CSV_COLUMNS = (
    "id",
    "tenant",
    "date",
    "principalName",
    "principalKind",
    "action",
    "resourceType",
    "resourceId",
    "namespace",
    "executionId",
    "channel",
    "address",
    "userAgent",
    "outcome",
    "detail",
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record_json(record: AuditRecord) -> dict[str, Any]:
    """An audit record as the API shows it."""
    return {
        "id": record.seq,
        "tenant": record.tenant,
        "date": _iso(record.at),
        "principal": {"name": record.principal_name, "kind": record.principal_kind},
        "action": record.action,
        "resourceType": record.resource_type,
        "resourceId": record.resource_id,
        "namespace": record.namespace,
        "executionId": record.execution_id,
        "channel": record.channel,
        "address": record.address,
        "userAgent": record.user_agent,
        "outcome": record.outcome,
        "detail": record.detail,
        "before": record.before,
        "after": record.after,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    # A spreadsheet runs a cell starting with these as a formula: never a typed value's text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(records: Iterable[AuditRecord]) -> Iterator[str]:
    """A header line, then one CSV line per record."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flushed() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flushed()
    for record in records:
        row = {
            **record_json(record),
            "principalName": record.principal_name,
            "principalKind": record.principal_kind,
        }
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        yield flushed()


def jsonl_lines(records: Iterable[AuditRecord]) -> Iterator[str]:
    """One compact JSON object per record and line."""
    for record in records:
        yield json.dumps(record_json(record), ensure_ascii=False, separators=(",", ":")) + "\n"
