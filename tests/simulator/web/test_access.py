"""The web view's access token, over real HTTP: every page, stream and file needs it."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest
from lva_simulator.web import WebOptions

from tests.support.simulator import running_simulator

PATHS = (
    "/",
    "/instances/any",
    "/instances/any/live",
    "/instances/any/log.json",
    "/recordings",
    "/recordings/1/video.mp4",
    "/style.json",
    "/static/draw.js",
    "/no/such/page",
)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("web-access")
    with running_simulator(state, web=WebOptions(port=0)) as sim:
        yield sim.simulator


@pytest.fixture(scope="module")
def web(simulator):
    assert simulator.web is not None
    return simulator.web


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read(200)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def base(web) -> str:
    return f"http://127.0.0.1:{web.port}"


@pytest.mark.parametrize("path", PATHS)
def test_no_token_is_401_and_a_wrong_one_403_with_no_content(web, path):
    assert fetch(base(web) + path)[::2] == (401, b"")
    assert fetch(f"{base(web)}{path}?token=x{web.options.token}")[::2] == (403, b"")
    cookie = {"Cookie": f"lva_simulator_token={web.options.token[:-1]}"}
    assert fetch(base(web) + path, headers=cookie)[::2] == (403, b"")


def test_the_printed_link_opens_the_page_and_sets_the_cookie(web, tmp_path):
    assert web.url == f"{base(web)}/?token={web.options.token}"
    status, headers, body = fetch(web.url)
    assert status == 200 and b"<html" in body
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"lva_simulator_token={web.options.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    # The cookie alone is enough for the pages' own links.
    session = {"Cookie": f"lva_simulator_token={web.options.token}"}
    assert fetch(base(web) + "/static/draw.js", headers=session)[0] == 200
    assert fetch(base(web) + "/instances/nope", headers=session)[0] == 404
    assert fetch(base(web) + "/instances/nope/live", headers=session)[0] == 404
    assert fetch(base(web) + "/recordings/0123456789abcdef", headers=session)[0] == 404
    assert fetch(base(web) + "/recordings/0123456789abcdef/video.mp4", headers=session)[0] == 404


def test_buttons_answer_only_the_page_itself(web):
    session = {"Cookie": f"lva_simulator_token={web.options.token}"}
    url = base(web) + "/instances/nope/activate"
    foreign = fetch(url, "POST", {**session, "Origin": "http://evil.example"})
    assert foreign[::2] == (403, b"")
    own = fetch(url, "POST", {**session, "Origin": base(web)})
    assert own[0] == 200 and b'"status": 404' in own[2]  # the direct method's answer


def test_the_link_is_written_for_scripts_and_kept_private(simulator, web):
    link = simulator.web_url_file
    assert link.read_text().strip() == web.url
    assert link.stat().st_mode & 0o077 == 0


def test_a_web_port_in_use_stops_the_start_with_a_clear_message(web, tmp_path):
    from lva_simulator.app import Simulator, SimulatorOptions

    options = SimulatorOptions(port=0, state_dir=tmp_path, web=WebOptions(port=web.port))

    async def start() -> None:
        await Simulator(options).start()

    with pytest.raises(OSError, match=rf"web view: cannot listen on 127.0.0.1:{web.port} .*"):
        asyncio.run(start())
    # What had started is stopped again: the hub's connection string is gone.
    assert not (tmp_path / "connection-string.txt").exists()
