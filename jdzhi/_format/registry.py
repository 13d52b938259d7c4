"""Registry entries: an enterprise, its license and the license's status history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jdzhi.timeutil import format_time

if TYPE_CHECKING:
    from jdzhi.registry.enterprises import Enterprise
    from jdzhi.registry.entries import EntryDetail, RegistryEntry
    from jdzhi.registry.licenses import LicenseEvent


def enterprise_json(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "id": enterprise.id, "uscc": enterprise.uscc, "name": enterprise.name,
        "name_en": enterprise.name_en, "short_name": enterprise.short_name,
        "district_code": enterprise.district_code, "district": enterprise.district_name,
        "address": enterprise.address, "contact": enterprise.contact,
    }


def entry_json(entry: RegistryEntry) -> dict[str, Any]:
    lic = entry.license
    return {
        **enterprise_json(entry.enterprise),
        "license_id": lic.id,
        "license_no": lic.license_no,
        "status": entry.status,
        "status_reason": lic.status_reason,
        "status_effective_at": format_time(lic.status_effective_at),
        "categories": list(lic.categories),
        "valid_from": lic.valid_from.isoformat(),
        "valid_to": lic.valid_to.isoformat(),
    }


def license_event_json(event: LicenseEvent) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "action": event.action, "status": event.status, "reason": event.reason,
        "effective_at": format_time(event.effective_at),
        "recorded_at": format_time(event.recorded_at), "actor": event.actor,
        "valid_to": event.valid_to.isoformat() if event.valid_to else None,
    }
    if event.superseded:  # only then, so that the usual history reads as before
        shown["superseded"] = True
    return shown


def entry_detail_json(detail: EntryDetail) -> dict[str, Any]:
    return {
        **entry_json(detail.entry),
        "history": [license_event_json(event) for event in detail.history],
        "other_licenses": list(detail.other_licenses),
    }
