"""Unified social credit codes: known answers on published real codes, and every typo caught."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jdzhi.errors import InvalidInput
from jdzhi.registry import uscc

# Real codes of real enterprises, published as test data by open-source validators:
# - github.com/bluesky335/IDCheck (Go), USCI test data in its example main.go and README, which
#   lists 91350100M000100Y43 as the standard's own example (官方示例) and names each company;
# - github.com/arthurdejong/python-stdnum, stdnum/cn/uscc.py doctest (91110000600037341L).
PUBLISHED_VALID = {
    "91350100M000100Y43": "GB 32100-2015 example (官方示例)",
    "9135010557098120XJ": "福建百度博瑞网络科技有限公司",
    "91120222MA06DG3067": "天津云上畅游科技合伙企业（有限合伙）",
    "91120222MA0699U071": "天津锤子科技有限公司",
    "91310000MA1K35Y38P": "锤子科贸（上海）有限公司",
    "91110108795101314G": "谷歌信息技术（中国）有限公司",
    "914403001922038216": "华为技术有限公司",
    "91330000704202479R": "浙江小王子食品有限公司",
    "91500105MA5UM6TF71": "重庆云嘟嘟科技有限公司",
    "913504001555807674": "福建一建集团有限公司",
    "9135020026015919XW": "厦门象屿集团有限公司",
    "913502006120495420": "厦门中骏集团有限公司",
    "91110000600037341L": "python-stdnum doctest",
}

# Real codes from early pilot regions whose character 18 does not satisfy GB 32100-2015; the same
# sources (IDCheck README) list them with the check character the standard would require.
PUBLISHED_NONCONFORMING = {
    "91350100M0001TGQXM": "1",  # 福建恒跃柳工机械销售有限公司
    "91350211M0000XUF46": "R",  # 厦门云上晴空航空科技有限公司
    "91350203M0001FUE2P": "J",  # 厦门黑脉网络科技有限公司
}


@pytest.mark.parametrize("code", sorted(PUBLISHED_VALID))
def test_published_real_codes_pass(code: str) -> None:
    checked = uscc.validate(code)
    assert checked.code == code
    assert checked.warnings == ()


@pytest.mark.parametrize(("code", "expected"), sorted(PUBLISHED_NONCONFORMING.items()))
def test_published_nonconforming_codes_fail_with_the_expected_check(code: str,
                                                                    expected: str) -> None:
    assert uscc.check_character(code[:17]) == expected
    with pytest.raises(InvalidInput, match=f"character 18 is '{code[17]}', expected '{expected}'"):
        uscc.validate(code)


def test_weights_are_powers_of_three_mod_31() -> None:
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_people_may_type_spaces_hyphens_and_lower_case() -> None:
    assert uscc.validate(" 9135 0100-m000 100y43 ").code == "91350100M000100Y43"


@pytest.mark.parametrize(("text", "message"), [
    ("", "has 0 characters, not 18"),
    ("91350100M000100Y4", "has 17 characters, not 18"),
    ("91350100M000100Y433", "has 19 characters, not 18"),
    ("91350100M000100I43", "contains 'I', which GB 32100 does not use"),
    ("91350100M000100O43", "contains 'O'"),
    ("913501S0M000100Y43", "contains 'S'"),
    ("9135A100M000100Y43", "characters 3-8 must be a 6-digit division code"),
    ("91350100M000100Y44", "fails the GB 32100 check"),
])
def test_malformed_codes_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        uscc.validate(text)


def test_a_wrong_organization_code_check_is_only_a_warning() -> None:
    # 91350100M000100Y43 with character 17 changed and character 18 recomputed
    first17 = "91350100M000100Y4"[:16] + "7"
    code = first17 + uscc.check_character(first17)
    checked = uscc.validate(code)
    assert checked.code == code
    assert len(checked.warnings) == 1
    assert "GB 11714" in checked.warnings[0] and "'7'" in checked.warnings[0]


def test_gb11714_check_on_a_published_organization_code() -> None:
    # 华为技术有限公司's organization code 19220382-1 (characters 9-17 of 914403001922038216)
    assert uscc.organization_check_character("19220382") == "1"


@st.composite
def sample_codes(draw: st.DrawFn) -> str:
    seed = draw(st.integers(min_value=0, max_value=2**32))
    division = draw(st.sampled_from(["360202", "360203", "360222", "360281"]))
    return uscc.generate(random.Random(seed), division_code=division)


@given(sample_codes())
def test_generated_sample_codes_pass_both_checks(code: str) -> None:
    assert uscc.validate(code).warnings == ()


@given(code=sample_codes(), position=st.integers(min_value=0, max_value=17), data=st.data())
def test_any_single_changed_character_is_rejected(code: str, position: int,
                                                  data: st.DataObject) -> None:
    replacement = data.draw(st.sampled_from([c for c in uscc.CHARSET if c != code[position]]))
    if position in range(2, 8) and not replacement.isdigit():
        replacement = str((int(code[position]) + 1) % 10)
    changed = code[:position] + replacement + code[position + 1:]
    with pytest.raises(InvalidInput):
        uscc.validate(changed)
