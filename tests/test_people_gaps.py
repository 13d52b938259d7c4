"""What people met in the README and --help: offline scanning in a fresh home, GB18030 CSVs,
cut marks, future creation dates, and the same top-K in the screening report as on screen."""

from __future__ import annotations

import json
from pathlib import Path

from hardening_support import World, build_world, environment, ok
from typer.testing import CliRunner

from jdzhi.cli import app
from jdzhi.errors import ExitCode


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    env = environment(home)
    env.pop("JDZHI_NOW")  # an inspector's fresh home runs on the real clock
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_readme_offline_scan_runs_in_a_fresh_home(tmp_path: Path) -> None:
    world: World = build_world(tmp_path / "center", count=2)
    photos = tmp_path / "photos"
    ok(CliRunner().invoke(app, ["--home", str(world.home.path), "label", str(world.signed),
                                "--out", str(photos), "--format", "png", "--dpi", "300"],
                          env=environment(world.home.path), catch_exceptions=False))
    inspector = tmp_path / "inspector-home"
    code, out, err = _run(inspector, "scan", str(photos), "--trust", str(world.bundle),
                          "--authority", world.authority_public_key, "--json")
    verdicts = [item["verdict"] for item in json.loads(out)]
    # the bundle of build_world was exported on 2026-03-10 and is stale on the real clock
    assert verdicts == ["stale-trust", "stale-trust"], err
    assert code == ExitCode.CHECK_FAILED
    assert "not logged" in err and not (inspector / "registry.db").exists()


def test_a_gb18030_csv_is_read_with_a_note(tmp_path: Path) -> None:
    world = build_world(tmp_path, count=1)
    source = tmp_path / "excel.csv"
    source.write_bytes("serial,batch,category,production_date,name\n"
                       "7001,B9,qinghua,2026-03-01,青花缠枝莲纹碗\n".encode("gb18030"))
    result = CliRunner().invoke(app, ["--home", str(world.home.path), "sign", str(source),
                                      "--key", str(world.key), "--out",
                                      str(tmp_path / "out.jsonl")],
                                env=environment(world.home.path), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "is not UTF-8; read it as GB18030" in result.stderr
    line = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert line["name"] == "青花缠枝莲纹碗"


def test_cut_marks_are_an_option_of_label(tmp_path: Path) -> None:
    world = build_world(tmp_path, count=2)
    env = environment(world.home.path)
    plain, marked = tmp_path / "plain.pdf", tmp_path / "marked.pdf"
    for out, extra in ((plain, []), (marked, ["--cut-marks"])):
        ok(CliRunner().invoke(app, ["--home", str(world.home.path), "label", str(world.signed),
                                    "--out", str(out), *extra], env=env,
                              catch_exceptions=False))
    assert plain.read_bytes() != marked.read_bytes()


def test_a_work_created_in_the_future_is_refused(tmp_path: Path) -> None:
    from jdzhi.errors import InvalidInput
    from jdzhi.similarity.works import make_request

    try:
        make_request(tmp_path / "x.png", "赣作登字-2025-F-00000001", "t", "o", "2099-01-01")
    except InvalidInput as error:
        assert "lies in the future" in error.message
    else:
        raise AssertionError("a creation date in 2099 was accepted")
    request = make_request(tmp_path / "x.png", "赣作登字-2025-F-00000001", "t", "o", "2020-05-01")
    assert request.creation_date == "2020-05-01"
