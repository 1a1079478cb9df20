"""Hub URLs are read by the parser that connects (urllib3's): a URL whose host looks like this
machine to one parser and is another host to the connection is refused, and so is a user name
or password in a hub URL (the station's token goes in hub.station_token)."""

from __future__ import annotations

import pytest
from settings_kit import MINIMAL

from common import exitcodes
from common.netutil import dialled_host, hub_url_problem, is_loopback_url
from config.cli import main
from config.settings import SettingsError, insecure_urls, parse_settings

TRICK = "http://evil.example\\@127.0.0.1/feeds/gy/"  # urlsplit: 127.0.0.1; urllib3 (requests): evil.example


def hub(**values: str | bool) -> str:
    lines = [f"{k} = {'true' if v is True else repr(v) if isinstance(v, str) else v}" for k, v in values.items()]
    return MINIMAL + "\n[hub]\n" + "\n".join(lines).replace("'", '"') + "\n"


def test_the_loopback_rule_looks_at_the_host_actually_dialled() -> None:
    assert dialled_host(TRICK) == "evil.example"
    assert not is_loopback_url(TRICK)
    assert is_loopback_url("http://127.0.0.1:8080/feeds/gy/") and is_loopback_url("http://[::1]/")
    assert is_loopback_url("http://localhost./") and not is_loopback_url("http://127.0.0.1.evil.example/")


@pytest.mark.parametrize("key", ["feed_url", "upload_url"])
def test_a_backslash_trick_is_refused_naming_the_key(key: str) -> None:
    with pytest.raises(SettingsError) as refused:
        parse_settings(hub(**{key: TRICK.replace("\\", "\\\\")}))
    assert f"hub.{key}:" in str(refused.value) and "反斜杠" in str(refused.value)
    # Even where plain http is allowed, the URL is refused: the host shown is not the host dialled.
    with pytest.raises(SettingsError):
        parse_settings(hub(**{key: TRICK.replace("\\", "\\\\"), "allow_insecure_http": True}))


@pytest.mark.parametrize("url", ["http://user@127.0.0.1/api/v1/", "https://user:secret@hub.example.gov.cn/api/v1/"])
def test_a_user_name_or_password_in_a_hub_url_is_refused(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        parse_settings(hub(upload_url=url))
    message = str(refused.value)
    assert message.startswith("station.toml: hub.upload_url: ") and "用户名或密码" in message
    assert "secret" not in message  # the password is not repeated back
    assert hub_url_problem(url) is not None


def test_good_hub_urls_pass_and_plain_http_is_judged_by_the_dialled_host() -> None:
    settings = parse_settings(hub(feed_url="http://127.0.0.1:8080/feeds/gy/",
                                  upload_url="https://hub.example.gov.cn/api/v1/"))
    assert insecure_urls(settings.hub) == []
    with pytest.raises(SettingsError, match="must be https://"):
        parse_settings(hub(feed_url="HTTP://hub.example.gov.cn/feeds/gy/"))


def test_config_check_refuses_the_user_info_url(station, capsys: pytest.CaptureFixture[str]) -> None:
    text = station.config_path.read_text(encoding="utf-8")
    station.config_path.write_text(text + '\n[hub]\nupload_url = "http://user@127.0.0.1/api/v1/"\n',
                                   encoding="utf-8")
    assert main(["config", "check", str(station.config_path)]) == exitcodes.CONFIG
    err = capsys.readouterr().err
    assert "hub.upload_url" in err and "用户名或密码" in err and "user name or password" in err
