"""A realistic, clearly labelled SAMPLE registry for demos and tests (``registry sample``).

The enterprises are fictitious: names are composed from common shop-name characters and trade
words, USCCs are random codes that pass the GB 32100 and GB 11714 checks, addresses use real
Jingdezhen road names with invented numbers. The file says so in its first lines and every
contact is marked ``(sample)``. The same seed and ``as_of`` date give the same file.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from jdzhi.errors import InvalidInput
from jdzhi.registry.categories import BUILTIN_CATEGORIES
from jdzhi.registry.exchange import check_output_path, write_records
from jdzhi.registry.uscc import generate as generate_uscc
from jdzhi.timeutil import CHINA_STANDARD_TIME, format_time

__all__ = ["MAX_COUNT", "SampleResult", "sample_records", "write_sample"]

MAX_COUNT = 2000

#: (district code, weight, prefix of some registered names, roads)
_DISTRICTS = (
    ("360203", 40, "珠山区", ("珠山中路", "莲社北路", "新厂西路", "陶阳南路", "瓷都大道",
                             "曙光路", "里村路")),
    ("360202", 30, "昌江区", ("昌江大道", "吕蒙大道", "景东路", "新风路", "西郊路")),
    ("360222", 18, "浮梁县", ("浮梁大道", "朝阳路", "瑶里古镇大街", "湘湖街")),
    ("360281", 12, "乐平市", ("洎阳路", "翥山路", "长征路", "乐安大道")),
)
_FIRST = (("青", "Qing"), ("玉", "Yu"), ("昌", "Chang"), ("景", "Jing"), ("华", "Hua"),
          ("宏", "Hong"), ("金", "Jin"), ("雅", "Ya"), ("天", "Tian"), ("瑞", "Rui"),
          ("德", "De"), ("永", "Yong"), ("翰", "Han"), ("松", "Song"), ("兰", "Lan"),
          ("嘉", "Jia"), ("福", "Fu"), ("春", "Chun"), ("盛", "Sheng"), ("鸿", "Hong"),
          ("泰", "Tai"), ("恒", "Heng"), ("博", "Bo"), ("明", "Ming"))
_SECOND = (("云", "yun"), ("和", "he"), ("祥", "xiang"), ("源", "yuan"), ("泰", "tai"),
           ("盛", "sheng"), ("达", "da"), ("韵", "yun"), ("兴", "xing"), ("鼎", "ding"),
           ("丰", "feng"), ("华", "hua"), ("艺", "yi"), ("彩", "cai"), ("瓷", "ci"),
           ("窑", "yao"), ("林", "lin"), ("轩", "xuan"), ("堂", "tang"), ("坊", "fang"))
_KINDS = (("陶瓷有限公司", "Ceramics Co., Ltd.", 30), ("瓷业有限公司", "Porcelain Co., Ltd.", 25),
          ("陶瓷艺术有限公司", "Ceramic Art Co., Ltd.", 15),
          ("瓷厂有限公司", "Porcelain Factory Co., Ltd.", 8),
          ("陶瓷文化发展有限公司", "Ceramic Culture Development Co., Ltd.", 10),
          ("窑业有限公司", "Kiln Works Co., Ltd.", 6),
          ("陶瓷科技有限公司", "Ceramic Technology Co., Ltd.", 6))
#: how often each built-in category appears on a license (blue-and-white dominates)
_CATEGORY_WEIGHTS = {"qinghua": 50, "fencai": 25, "yanseyou": 25, "linglong": 12,
                     "qinghua-linglong": 8, "youlihong": 8, "xincai": 8, "diaosuci": 6,
                     "doucai": 5, "gucai": 5, "bodiaci": 4}
#: (status, share in percent) of the sample; ``expired`` licenses are active with a past end
_STATUS_SHARES = (("active", 85), ("expired", 6), ("suspended", 6), ("revoked", 3))
_SUSPEND_REASONS = (
    "抽检釉面铅镉溶出量超标 (spot check failed: lead/cadmium release above limit)",
    "标志使用超出许可品类 (mark used on an unlicensed category)",
    "未按期提交年度质量报告 (annual quality report overdue)",
    "生产场所变更未报备 (production site moved without notice)",
)
_REVOKE_REASONS = (
    "在非景德镇产瓷器上使用标志 (mark used on porcelain made outside Jingdezhen)",
    "停业注销 (enterprise deregistered)",
    "整改期满仍不合格 (still non-compliant after the rectification period)",
)


@dataclass(frozen=True)
class SampleResult:
    path: str
    count: int
    seed: int
    as_of: date
    statuses: dict[str, int]


def sample_records(count: int, *, seed: int, as_of: date) -> list[dict[str, Any]]:
    """``count`` fictitious enterprises with licenses, as rows of the exchange format."""
    if not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"the sample count must be between 1 and {MAX_COUNT}, not {count}")
    assert set(_CATEGORY_WEIGHTS) == {code for code, *_ in BUILTIN_CATEGORIES}
    rng = random.Random(seed)
    names: set[str] = set()
    usccs: set[str] = set()
    records: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        code, _, prefix, roads = rng.choices(_DISTRICTS, weights=[d[1] for d in _DISTRICTS])[0]
        name, name_en, short_name = _name(rng, prefix, names)
        uscc = generate_uscc(rng, division_code=code if rng.random() < 0.7 else "360200")
        while uscc in usccs:
            uscc = generate_uscc(rng, division_code=code)
        usccs.add(uscc)
        status = rng.choices([s for s, _ in _STATUS_SHARES],
                             weights=[w for _, w in _STATUS_SHARES])[0]
        if status == "expired":
            valid_to = as_of - timedelta(days=rng.randint(1, 400))
            valid_from = _years_before(valid_to, 5)
        else:
            # a suspension or revocation needs room between the start and as_of
            earliest = 60 if status in ("suspended", "revoked") else 10
            valid_from = as_of - timedelta(days=rng.randint(earliest, 1700))
            valid_to = _years_before(valid_from, -5)
        record: dict[str, Any] = {
            "uscc": uscc, "name": name, "name_en": name_en if rng.random() < 0.6 else "",
            "short_name": short_name, "district_code": code,
            "address": f"江西省景德镇市{rng.choice(roads)}{rng.randint(1, 399)}号",
            "contact": f"0798-8{rng.randint(100000, 999999)} (sample)",
            "license_no": f"JDZ-GI-{valid_from.year}-{number:04d}",
            "categories": _categories(rng), "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(), "status": "active", "status_reason": "",
            "status_effective_at": "",
        }
        if status in ("suspended", "revoked"):
            start = valid_from + timedelta(days=30)
            day = start + timedelta(days=rng.randint(0, max(0, (as_of - start).days - 1)))
            moment = datetime.combine(day, time(rng.randint(9, 16), rng.choice((0, 30))),
                                      tzinfo=CHINA_STANDARD_TIME)
            record.update(
                status=status,
                status_reason=rng.choice(
                    _SUSPEND_REASONS if status == "suspended" else _REVOKE_REASONS),
                status_effective_at=format_time(moment),
            )
        records.append(record)
    return records


def write_sample(path: Path, *, count: int, seed: int, as_of: date,
                 overwrite: bool = False) -> SampleResult:
    """Write a labelled sample registry file (CSV or JSON by suffix) that ``registry import``
    reads."""
    check_output_path(path, overwrite=overwrite, what="sample")
    records = sample_records(count, seed=seed, as_of=as_of)
    write_records(path, records, comment_lines=(
        f"SAMPLE DATA made by `jdzhi registry sample --count {count} --seed {seed} --as-of "
        f"{as_of}`.",
        "Fictitious enterprises for demos and tests: NOT the registry of the Jingdezhen Zhi mark.",
    ))
    statuses = Counter(
        "expired" if record["status"] == "active" and record["valid_to"] < as_of.isoformat()
        else record["status"] for record in records
    )
    return SampleResult(path=str(path), count=count, seed=seed, as_of=as_of,
                        statuses=dict(sorted(statuses.items())))


def _name(rng: random.Random, prefix: str, taken: set[str]) -> tuple[str, str, str]:
    while True:
        (first, first_en), (second, second_en) = rng.choice(_FIRST), rng.choice(_SECOND)
        if first == second:
            continue
        kind, kind_en, _ = rng.choices(_KINDS, weights=[k[2] for k in _KINDS])[0]
        place = prefix if prefix in ("浮梁县", "乐平市") and rng.random() < 0.5 else "景德镇市"
        name = f"{place}{first}{second}{kind}"
        if name in taken:
            continue
        taken.add(name)
        place_en = {"浮梁县": "Fuliang", "乐平市": "Leping"}.get(place, "Jingdezhen")
        short = f"{first}{second}" + {"瓷": "瓷业", "窑": "窑业"}.get(kind[0], "陶瓷")
        return name, f"{place_en} {first_en}{second_en} {kind_en}", short


def _categories(rng: random.Random) -> list[str]:
    how_many = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
    codes = list(_CATEGORY_WEIGHTS)
    chosen: list[str] = []
    while len(chosen) < how_many:
        code = rng.choices(codes, weights=list(_CATEGORY_WEIGHTS.values()))[0]
        if code not in chosen:
            chosen.append(code)
    return chosen


def _years_before(day: date, years: int) -> date:
    """The day before the same date ``years`` earlier (negative: the last day of a term of
    ``-years`` years starting on ``day``)."""
    try:
        shifted = day.replace(year=day.year - years)
    except ValueError:  # 29 February
        shifted = day.replace(year=day.year - years, day=28)
    return shifted + timedelta(days=1) if years > 0 else shifted - timedelta(days=1)
