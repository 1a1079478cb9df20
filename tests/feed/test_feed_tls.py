"""Transport: HTTPS end to end through the nginx set-up PROTOCOL.md documents (Debian's nginx,
started here in a temp dir on a free loopback port, with a CA made in the test), and a
station that refuses plain http:// to another machine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from feed_support import Hub, assert_shows, client_for, make_content

from common.netutil import free_port, wait_for_port
from config.doctor import check_hub, check_transport
from config.settings import SettingsError
from config.station import Station
from content.registrations import submit_registration
from hub.localservers import make_certificates

PERSON = {"name": "王秀兰", "id_number": "52010319650307242X", "phone": "13985012345"}
PROTOCOL = Path(__file__).resolve().parents[2] / "content" / "PROTOCOL.md"


def documented_nginx_site() -> str:
    """The server block PROTOCOL.md §6 gives (between the ``nginx`` fences)."""
    text = PROTOCOL.read_text(encoding="utf-8")
    return text.split("```nginx\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def nginx_tls(tmp_path: Path, hub: Hub) -> Iterator[tuple[str, Path]]:
    """nginx with TLS on a free loopback port in front of the hub; yields (https base URL, ca.pem)."""
    run = tmp_path / "nginx"
    (run / "tmp").mkdir(parents=True)
    ca, cert, key = make_certificates(run)  # the shipped site's test CA, for 127.0.0.1
    port = free_port()
    site = (documented_nginx_site().replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
            .replace("/etc/yizhan-hub/tls/fullchain.pem", str(cert))
            .replace("/etc/yizhan-hub/tls/privkey.pem", str(key))
            .replace("127.0.0.1:8080", f"127.0.0.1:{hub.server.port}")
            .replace("hub.example.gov.cn", "127.0.0.1"))
    temp = "".join(f"{name}_temp_path {run / 'tmp' / name};\n" for name in
                   ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (run / "nginx.conf").write_text(
        f"worker_processes 1;\nerror_log {run / 'error.log'};\nevents {{ worker_connections 64; }}\n"
        f"http {{\naccess_log off;\n{temp}{site}\n}}\n", encoding="utf-8")
    proc = subprocess.Popen(["nginx", "-p", str(run), "-c", str(run / "nginx.conf"),
                             "-g", f"daemon off; pid {run / 'nginx.pid'};"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, timeout=20)
        except TimeoutError:
            proc.kill()
            raise AssertionError(f"nginx did not start: {proc.communicate()[0].decode()}"
                                 f"{(run / 'error.log').read_text() if (run / 'error.log').exists() else ''}") from None
        yield f"https://127.0.0.1:{port}/", ca
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_https_end_to_end_through_nginx_with_a_pinned_ca(station, hub: Hub, nginx_tls) -> None:
    base, ca = nginx_tls
    token = hub.store.add_station("test-station-01")
    settings = station.write(f'[hub]\nfeed_url = "{base}feeds/gy/"\npublic_key = "{hub.public_key}"\n'
                             f'upload_url = "{base}api/v1/"\nstation_token = "{token}"\ntimeout_s = 5\n'
                             f'ca_bundle = "{ca}"\n')
    content = make_content(hub, jobs=15)
    hub.publish(content)
    result = client_for(settings).sync_once()
    assert result.status == "changed", result.detail
    assert_shows(settings, content, 1)
    submit_registration(settings.db_path, "求职", PERSON, {"意向": "保洁"}, station_id=settings.station.id)
    sender = Station(settings).sender(attempts=2, backoff_s=0.01)
    try:
        delivery = sender.deliver_once()
    finally:
        sender.close()
    assert delivery.sent == 1, delivery.reason
    assert hub.store.uploads("registration")[0]["payload"]["person"]["name"] == PERSON["name"]
    assert check_transport(settings).status == "ok"
    assert check_hub(settings).status == "ok"  # doctor reaches the hub through the pinned CA too
    # Ranges and validators come through the proxy (stations resume media with Range).
    media = hub.manifest().media[0]
    part = requests.get(f"{base}feeds/gy/{media.path}", headers={"Range": "bytes=10-"}, verify=str(ca), timeout=5)
    assert part.status_code == 206 and len(part.content) == media.size - 10
    # The limit holds behind the proxy too: an unauthenticated upload is refused by the hub.
    refused = requests.post(f"{base}api/v1/registrations", data=b"{}", verify=str(ca), timeout=5)
    assert refused.status_code == 401


def test_a_station_without_the_ca_refuses_the_certificate(station, hub: Hub, nginx_tls) -> None:
    base, _ca = nginx_tls
    settings = station.write(f'[hub]\nfeed_url = "{base}feeds/gy/"\npublic_key = "{hub.public_key}"\ntimeout_s = 5\n')
    hub.publish(make_content(hub, jobs=5))
    result = client_for(settings, attempts=1).sync_once()
    assert (result.status, result.code) == ("failed", "unavailable")
    assert "SSL" in result.detail or "certificate" in result.detail


def test_plain_http_to_another_machine_is_refused_unless_allowed(station) -> None:
    with pytest.raises(SettingsError, match=r"hub\.upload_url.*must be https://|upload_url must be https://"):
        station.write('[hub]\nupload_url = "http://10.20.30.40/api/v1/"\n')
    text = station.config_path.read_text(encoding="utf-8").rsplit("[hub]", 1)[0]
    station.config_path.write_text(text, encoding="utf-8")
    settings = station.write('[hub]\nupload_url = "http://10.20.30.40/api/v1/"\nallow_insecure_http = true\n')
    check = check_transport(settings)
    assert check.status == "fail" and "hub.upload_url" in check.detail
    loopback = station.config_path.read_text(encoding="utf-8").rsplit("[hub]", 1)[0]
    station.config_path.write_text(loopback + '[hub]\nfeed_url = "http://127.0.0.1:8080/feeds/gy/"\n', encoding="utf-8")
    assert check_transport(station.settings).status == "ok"
