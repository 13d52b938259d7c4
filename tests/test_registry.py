"""The registry library: enterprises, licenses, status by effective time, categories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from conftest import BOTH_BACKENDS
from hypothesis import given, settings
from hypothesis import strategies as st

from jdzhi._format.registry import entry_detail_json
from jdzhi.errors import Conflict, InvalidInput, InvalidState, NotFound
from jdzhi.home import Home
from jdzhi.registry import audit
from jdzhi.registry.categories import Category, add_category, get_category, list_categories
from jdzhi.registry.db import Database, initialize, open_registry
from jdzhi.registry.enterprises import get_enterprise
from jdzhi.registry.entries import add_entry, list_entries, registration_from_fields, show_entry
from jdzhi.registry.exchange import read_records, write_records
from jdzhi.registry.licenses import (
    change_status,
    current_license,
    effective_status,
    history,
    is_valid_at,
    status_at,
)

pytestmark = BOTH_BACKENDS

USCC = "91350100M000100Y43"  # the GB 32100-2015 example code


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def db(jdzhi_home: Home) -> Iterator[Database]:
    initialize(jdzhi_home)
    database = open_registry(jdzhi_home)
    yield database
    database.close()


def fields(**overrides: Any) -> dict[str, Any]:
    base = {"uscc": USCC, "name": "景德镇市青云陶瓷有限公司", "district_code": "360203",
            "license_no": "JDZ-GI-2024-0001", "categories": "青花;fencai",
            "valid_from": "2024-01-01", "valid_to": "2028-12-31"}
    return {**base, **overrides}


def test_init_seeds_builtin_categories_with_audit_entries(db: Database) -> None:
    codes = [category.code for category in list_categories(db)]
    assert codes[:4] == ["qinghua", "linglong", "fencai", "yanseyou"]
    report = audit.verify(db)
    assert report.ok and report.entries == len(codes)  # one entry per built-in category


def test_seeding_again_changes_nothing(jdzhi_home: Home, db: Database) -> None:
    before = audit.verify(db).entries
    initialize(jdzhi_home)
    assert audit.verify(db).entries == before


def test_category_by_code_chinese_or_english_name(db: Database) -> None:
    assert get_category(db, "青花").code == "qinghua"
    assert get_category(db, "Famille-Rose").code == "fencai"
    assert get_category(db, " yanseyou ").name_zh == "颜色釉"
    with pytest.raises(NotFound, match="no product category '刻花'"):
        get_category(db, "刻花")


def test_add_category_and_its_refusals(db: Database) -> None:
    added = add_category(db, code="kehua", name_zh="刻花", name_en="carved")
    assert added.label_code == 12
    assert get_category(db, "carved") == added
    with pytest.raises(Conflict, match="already uses that code or name"):
        add_category(db, code="kehua2", name_zh="刻花", name_en="carved again")
    with pytest.raises(Conflict, match="label code 1 is already used"):
        add_category(db, code="tiaohua", name_zh="剔花", name_en="sgraffito", label_code=1)
    with pytest.raises(InvalidInput, match="must start with a letter"):
        add_category(db, code="9x", name_zh="某", name_en="x")
    assert audit.verify(db).ok


def test_enterprise_by_id_uscc_or_license_number(db: Database) -> None:
    entry, warnings = add_entry(db, fields())
    assert warnings == (
        "USCC 91350100M000100Y43 was issued in division 350100, outside Jingdezhen (3602xx)",
    )
    for ref in (str(entry.enterprise.id), USCC, "9135 0100 m000 100y43", "jdz-gi-2024-0001"):
        assert get_enterprise(db, ref) == entry.enterprise
    assert entry.enterprise.short_name == "青云陶瓷"
    assert entry.license.categories == ("qinghua", "fencai")
    with pytest.raises(NotFound, match="no enterprise with id, USCC or license number '99'"):
        get_enterprise(db, "99")


def test_adding_twice_conflicts_and_stores_nothing(db: Database) -> None:
    add_entry(db, fields())
    entries_before = audit.verify(db).entries
    with pytest.raises(Conflict, match="already registered"):
        add_entry(db, fields(license_no="JDZ-GI-2024-0002"))
    with pytest.raises(Conflict, match="license number JDZ-GI-2024-0001 is already taken"):
        add_entry(db, fields(uscc="914403001922038216"))
    assert audit.verify(db).entries == entries_before
    assert len(list_entries(db)) == 1


def test_past_effective_suspension_changes_status_only_after_it(db: Database) -> None:
    entry, _ = add_entry(db, fields())
    lic = entry.license
    change = change_status(db, "JDZ-GI-2024-0001", "suspend", reason="spot check failed",
                           effective_at=utc("2025-03-01T01:00:00"))
    assert change.previous_status == "active"
    assert change.license.status == "suspended"
    before = status_at(db, lic.id, utc("2025-03-01T00:59:59"))
    after = status_at(db, lic.id, utc("2025-03-01T01:00:00"))
    assert before is not None and before.status == "active" and before.action == "issue"
    assert after is not None and after.status == "suspended" and after.reason == "spot check failed"
    assert is_valid_at(db, lic.id, utc("2025-02-28T12:00:00"))
    assert not is_valid_at(db, lic.id, utc("2025-03-02T00:00:00"))
    # the license starts at midnight China Standard Time on valid_from
    assert status_at(db, lic.id, utc("2023-12-31T15:59:59")) is None
    assert effective_status(db, lic.id, utc("2023-12-31T15:59:59")) == "pending"
    assert is_valid_at(db, lic.id, utc("2023-12-31T16:00:00"))


def test_reinstate_revoke_and_the_history(db: Database) -> None:
    entry, _ = add_entry(db, fields())
    license_id = entry.license.id
    change_status(db, USCC, "suspend", reason="r1", effective_at=utc("2025-01-01T00:00:00"))
    change_status(db, USCC, "reinstate", reason="r2", effective_at=utc("2025-02-01T00:00:00"))
    change_status(db, USCC, "revoke", reason="r3", effective_at=utc("2025-06-01T00:00:00"))
    events = history(db, license_id)
    assert [(e.action, e.status, e.reason) for e in events] == [
        ("issue", "active", "licensed"), ("suspend", "suspended", "r1"),
        ("reinstate", "active", "r2"), ("revoke", "revoked", "r3"),
    ]
    assert all(event.actor == "test-operator" for event in events)
    assert is_valid_at(db, license_id, utc("2025-03-01T00:00:00"))
    assert not is_valid_at(db, license_id, utc("2025-01-15T00:00:00"))
    assert not is_valid_at(db, license_id, utc("2026-01-01T00:00:00"))
    assert audit.verify(db).ok


@pytest.mark.parametrize(("setup", "action", "message"), [
    ((), "reinstate", "is active, not suspended; there is nothing to reinstate"),
    (("suspend",), "suspend", "is already suspended"),
    (("revoke",), "revoke", "is already revoked"),
    (("revoke",), "reinstate", "is revoked, which is final: it cannot be reinstated"),
    (("revoke",), "suspend", "is revoked, which is final: it cannot be suspended"),
])
def test_status_changes_refused_in_the_wrong_state(
    db: Database, setup: tuple[str, ...], action: str, message: str
) -> None:
    add_entry(db, fields())
    for step in setup:
        change_status(db, USCC, step, reason="setup", effective_at=utc("2025-01-01T00:00:00"))
    entries_before = audit.verify(db).entries
    with pytest.raises(InvalidState, match=message):
        change_status(db, USCC, action, reason="again", effective_at=utc("2025-02-01T00:00:00"))
    assert audit.verify(db).entries == entries_before


def test_a_change_cannot_take_effect_before_the_latest_one(db: Database) -> None:
    add_entry(db, fields())
    change_status(db, USCC, "suspend", reason="x", effective_at=utc("2025-05-01T00:00:00"))
    with pytest.raises(InvalidState, match="already has a change \\(suspend\\) effective at "
                                           "2025-05-01T00:00:00Z"):
        change_status(db, USCC, "revoke", reason="y", effective_at=utc("2025-04-01T00:00:00"))


def test_a_reason_is_required(db: Database) -> None:
    add_entry(db, fields())
    with pytest.raises(InvalidInput, match="a reason is needed to suspend a license"):
        change_status(db, USCC, "suspend", reason="   ")


def test_expiry_and_renewal_extend_validity_from_the_renewal_on(
    db: Database,
) -> None:
    entry, _ = add_entry(db, fields(valid_from="2020-01-01", valid_to="2024-12-31"))
    license_id = entry.license.id
    # the last day counts in Jingdezhen's calendar (UTC+08:00)
    assert is_valid_at(db, license_id, utc("2024-12-31T15:59:59"))
    assert effective_status(db, license_id, utc("2024-12-31T16:00:00")) == "expired"
    change = change_status(db, USCC, "renew", reason="renewed for five years",
                           effective_at=utc("2025-02-01T00:00:00"),
                           new_valid_to=date(2029, 12, 31))
    assert change.license.valid_to == date(2029, 12, 31)
    assert change.event.status == "active"
    assert not is_valid_at(db, license_id, utc("2025-01-15T00:00:00"))  # lapsed before renewal
    assert is_valid_at(db, license_id, utc("2025-02-01T00:00:00"))
    assert current_license(db, entry.enterprise.id).valid_to == date(2029, 12, 31)
    with pytest.raises(InvalidInput, match="must be after the current one, 2029-12-31"):
        change_status(db, USCC, "renew", reason="x", new_valid_to=date(2029, 1, 1))
    with pytest.raises(InvalidInput, match="a new end date is needed to renew"):
        change_status(db, USCC, "renew", reason="x")


def test_list_filters_and_status_now(db: Database) -> None:
    add_entry(db, fields())
    add_entry(db, fields(uscc="914403001922038216", license_no="JDZ-GI-2019-0002",
                         district_code="浮梁县", categories="颜色釉",
                         valid_from="2019-01-01", valid_to="2023-12-31"))
    moment = utc("2026-01-01T00:00:00")
    assert [e.status for e in list_entries(db, moment=moment)] == ["active", "expired"]
    assert [e.license.license_no for e in list_entries(db, status="expired", moment=moment)] == [
        "JDZ-GI-2019-0002"]
    assert [e.enterprise.district_code for e in list_entries(db, district="浮梁县")] == ["360222"]
    assert len(list_entries(db, category="青花")) == 1
    with pytest.raises(InvalidInput, match="district '北京' is not one of Jingdezhen's"):
        list_entries(db, district="北京")
    with pytest.raises(InvalidInput, match="status 'gone' is not one of"):
        list_entries(db, status="gone")


def test_show_has_the_history(db: Database) -> None:
    add_entry(db, fields())
    change_status(db, USCC, "suspend", reason="x", effective_at=utc("2025-05-01T00:00:00"))
    detail = show_entry(db, "JDZ-GI-2024-0001", moment=utc("2025-06-01T00:00:00"))
    data = entry_detail_json(detail)
    assert data["status"] == "suspended"
    assert [event["action"] for event in data["history"]] == ["issue", "suspend"]
    assert data["history"][1]["effective_at"] == "2025-05-01T00:00:00Z"


# ---------------------------------------------------------------- the exchange format

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=2, max_size=40
).map(str.strip).filter(lambda text: len(text) >= 2)


@settings(max_examples=60, deadline=None)
@given(name=_TEXT, name_en=_TEXT, address=_TEXT, contact=_TEXT, suffix=st.sampled_from([".csv",
                                                                                     ".json"]))
def test_files_round_trip_any_text(tmp_path_factory: pytest.TempPathFactory, name: str,
                                   name_en: str, address: str, contact: str,
                                   suffix: str) -> None:
    """Quotes, commas, '#', CJK and emoji in any field survive writing and reading."""
    record = {**fields(name=name, name_en=name_en, address=address, contact=contact),
              "categories": ["qinghua", "fencai"], "short_name": "青云",
              "status": "suspended", "status_reason": f"reason, {name}",
              "status_effective_at": "2025-01-01T00:00:00Z"}
    path = tmp_path_factory.mktemp("files") / f"registry{suffix}"
    write_records(path, [record], comment_lines=("a comment",))
    [(_row, read)] = read_records(path).rows
    categories = (Category("qinghua", "青花", "blue-and-white", 1),
                  Category("fencai", "粉彩", "famille-rose", 3))
    registration = registration_from_fields(read, categories)
    ent = registration.enterprise
    assert (ent.name, ent.name_en, ent.address, ent.contact) == (name, name_en, address, contact)
    assert registration.status_reason == f"reason, {name}"
    assert registration.categories == ("qinghua", "fencai")
