"""The ``yizhan`` command: help, exit codes, config check/show, doctor."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from common import exitcodes
from config.cli import main


def test_help_lists_subcommands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "doctor", "config"):
        assert name in out
    assert "exit codes:" in out and "settings file missing or invalid" in out


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from config.cli import build_parser

    parser = build_parser()
    names = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them here
    assert {"demo", "doctor", "config"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert "--config" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == exitcodes.USAGE


def test_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "check", "--no-such-flag"])
    assert info.value.code == exitcodes.USAGE


def test_config_check_good_and_bad(station, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(station.config_path)]) == exitcodes.OK
    assert "OK" in capsys.readouterr().out
    station.config_path.write_text(station.config_path.read_text(encoding="utf-8").replace(
        "paper_width = 80", "paper_width = 75"), encoding="utf-8")
    assert main(["config", "check", str(station.config_path)]) == exitcodes.CONFIG
    err = capsys.readouterr().err
    assert err.strip() == "station.toml: devices.printer.paper_width: must be 58 or 80, got 75"


def test_bad_settings_file_gives_one_message_and_no_traceback(station) -> None:
    station.config_path.write_text(station.config_path.read_text(encoding="utf-8") + "\n[kiosk]\nidle = 3\n",
                                   encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "config.cli", "--config", str(station.config_path),
                             "config", "show"], capture_output=True, text=True, timeout=60)
    assert result.returncode == exitcodes.CONFIG
    assert "Traceback" not in result.stderr
    assert "station.toml: kiosk.idle: unknown key" in result.stderr


def test_config_show_json_masks_secrets(station, capsys: pytest.CaptureFixture[str]) -> None:
    station.config_path.write_text(station.config_path.read_text(encoding="utf-8")
                                   + '\n[hub]\nstation_token = "tok-very-secret"\n', encoding="utf-8")
    assert main(["config", "show", "--json", "--config", str(station.config_path)]) == exitcodes.OK
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["station"]["name"] == "城东社区人社便民服务站"
    assert data["hub"]["station_token"] == "****"
    assert "tok-very-secret" not in out


def test_config_via_environment(station, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("YIZHAN_CONFIG", str(station.config_path))
    assert main(["config", "show"]) == exitcodes.OK
    assert "test-station-01" in capsys.readouterr().out


def test_hash_pin_prints_a_usable_line(capsys: pytest.CaptureFixture[str]) -> None:
    from config.settings import check_pin

    assert main(["config", "hash-pin", "--pin", "135790"]) == exitcodes.OK
    captured = capsys.readouterr()
    line = captured.out.strip()
    assert line.startswith('staff_pin_hash = "$argon2id$')
    assert check_pin("135790", line.split('"')[1])
    assert "one guess takes" in captured.err and "135790" not in captured.err
    assert main(["config", "hash-pin", "--pin", "12"]) == exitcodes.USAGE
    assert main(["config", "hash-pin", "--pin", "13579"]) == exitcodes.USAGE  # 6 digits at least
    assert "6 to 12 digits" in capsys.readouterr().err


def test_doctor_reports_each_check(station, capsys: pytest.CaptureFixture[str], free_port: int) -> None:
    station.config_path.write_text(
        station.config_path.read_text(encoding="utf-8").replace("[devices.printer]", f"[devices.printer]\nport = {free_port}")
        + '\n[devices.idcard]\nport = "/dev/ttyNOPE9"\n', encoding="utf-8")
    code = main(["doctor", "--json", "--config", str(station.config_path)])
    data = json.loads(capsys.readouterr().out)
    checks = {c["key"]: c for c in data["checks"]}
    assert code == exitcodes.FAILURE and data["ok"] is False
    assert checks["font"]["status"] == "ok" and checks["font"]["name"] == "中文字体"
    assert checks["idcard"]["status"] == "fail" and "/dev/ttyNOPE9 不存在" in checks["idcard"]["detail"]
    assert checks["printer"]["status"] == "fail" and "打印机脱机" in checks["printer"]["detail"]
    assert checks["storage"]["status"] == "ok"
    assert checks["hub"]["status"] == "skip"


def test_doctor_clock_check() -> None:
    import dataclasses
    import datetime as dt

    from config.doctor import check_clock
    from config.settings import parse_settings

    settings = parse_settings('[station]\nid="s"\nname="测试站点"\nlatitude=1\nlongitude=1\n')
    # No hub to compare with: an implausible year fails; a plausible one passes only when the
    # system's time sync vouches for it.
    def synced(env):
        return dataclasses.replace(env, timesync=lambda: (True, "系统自动对时已同步"))

    from config.doctor import surroundings

    env = surroundings(settings)
    assert check_clock(synced(env), now=dt.datetime(2000, 1, 1)).status == "fail"
    assert check_clock(synced(env), now=dt.datetime(2026, 5, 1)).status == "ok"
    unsynced = dataclasses.replace(env, timesync=lambda: (False, "系统自动对时没有开启"))
    assert check_clock(unsynced, now=dt.datetime(2026, 5, 1)).status == "fail"


def test_command_error_under_python_m_has_no_traceback(station) -> None:
    result = subprocess.run([sys.executable, "-m", "config.cli", "--config", str(station.config_path),
                             "jobs", "show", "no-such-job"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


def test_doctor_sound_check_fails_without_an_audio_device(tmp_path, monkeypatch) -> None:
    """Real espeak-ng through ALSA: a default device that exists (ALSA's null sink) passes; none fails."""
    from config.doctor import check_audio
    from config.settings import parse_settings

    base = '[station]\nid="s"\nname="测试站点"\nlatitude=1\nlongitude=1\n'
    settings = parse_settings(base)
    works, missing = tmp_path / "null.conf", tmp_path / "none.conf"
    works.write_text("pcm.!default { type null }\n", encoding="utf-8")
    missing.write_text("", encoding="utf-8")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(works))
    assert check_audio(settings).status == "ok"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(missing))
    bad = check_audio(settings)
    assert bad.status == "fail" and "没有可用的声卡" in bad.detail and "Unknown PCM" in bad.detail
    assert check_audio(parse_settings(base + '[kiosk]\nread_aloud=false\n')).status == "skip"
    assert check_audio(parse_settings(base + '[kiosk]\ntts_command="no-such-tts-9"\n')).status == "fail"
