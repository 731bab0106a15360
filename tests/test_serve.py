"""`avpipe serve`: the real server on a free loopback port over a real results folder.

The API's search equals `avpipe search`; a video is served in byte ranges; `../`, encoded dots
and symlinks out of a result folder are refused; a non-loopback bind refuses requests without
its token, and a loopback one refuses foreign Host names; in real headless Chromium a typed
query and a click play the video at the moment found; a run into the folder while the server is
up shows its new video on reload, with no error on the page meanwhile.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import media
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """jfk.mp4 and nasa_13013.mp4 processed by `avpipe run` (with its search index)."""
    inputs = tmp_path_factory.mktemp("in")
    for name in ("jfk.mp4", "nasa_13013.mp4"):
        shutil.copy(SAMPLES / name, inputs / name)
    folder = tmp_path_factory.mktemp("served") / "out"
    proc = _cli("run", str(inputs), "--out", str(folder), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return folder


@contextmanager
def server(folder: Path, *args: str):
    """`avpipe serve FOLDER --port 0 ARGS`, as a real process; yields (base URL, first line it printed)."""
    proc = subprocess.Popen([sys.executable, "-m", "avpipe", "serve", str(folder), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://([^/\s]+)/", line)
        assert found, f"no address printed: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        host, port = found.group(1).rsplit(":", 1)
        yield f"http://{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{port}", line
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def url(out):
    with server(out) as (base, _):
        yield base


def _get(url: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _json(url: str, **kw) -> dict:
    status, _, body = _get(url, **kw)
    assert status == 200, (status, body[:300])
    return json.loads(body)


def _raw(base: str, path: str, host: str | None = None) -> tuple[int, bytes]:
    """A request with the path sent as written (no client normalises its dots away)."""
    netloc = base.split("//", 1)[1]
    conn = http.client.HTTPConnection(netloc, timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or netloc)
    conn.endheaders()
    r = conn.getresponse()
    return r.status, r.read()


def _video_id(out: Path, prefix: str) -> str:
    return next(p.name for p in out.iterdir() if p.name.startswith(prefix))


# --------------------------------------------------------------------------- API


def test_the_library_lists_every_video_with_its_facts(url, out):
    data = _json(f"{url}/api/videos")
    assert data["counts"] == {"ok": 2, "skipped": 0, "error": 0}
    jfk = next(v for v in data["videos"] if v["name"] == "jfk.mp4")
    assert jfk["languages"] == {"en": 1.0} and jfk["duration_s"] == pytest.approx(11.0, abs=0.2)
    assert "ask not what your country" in jfk["summary"]
    status, headers, body = _get(url + jfk["thumbnail"])
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    page = _get(url + "/")[2].decode()
    assert "jfk.mp4" in page and "nasa_13013.mp4" in page and jfk["page"] in page

    one = _json(f"{url}/api/videos/{jfk['id']}")
    assert one["result"] == json.loads((out / jfk["id"] / "result.json").read_text())
    assert one["media"] == {"url": f"/media/{jfk['id']}", "problem": None}
    assert _get(f"{url}/api/videos/nope")[0] == 404
    spec = _json(f"{url}/openapi.json")
    assert {"/api/videos", "/api/search", "/api/search/image", "/api/videos/{video_id}/ask"} <= set(spec["paths"])
    assert _get(f"{url}/docs")[0] == 404  # FastAPI's docs page would load its script from a CDN


@pytest.mark.parametrize("query", ["ask what you can do for your country", "telescope in a clean room", "a mirror"])
def test_api_search_finds_what_avpipe_search_finds(url, out, query):
    api = _json(f"{url}/api/search?" + urllib.parse.urlencode({"q": query, "k": 5}))["moments"]
    proc = _cli("search", query, "-k", "5", "--index", str(out))
    assert proc.returncode == 0, proc.stderr
    cli = [json.loads(line) for line in proc.stdout.splitlines()]
    keys = ("video_id", "start", "end", "score", "modality", "text")
    assert [{k: m[k] for k in keys} for m in api] == [{k: m[k] for k in keys} for m in cli]
    assert api and all(m["page"].startswith(f"/videos/{m['video_id']}#t=") for m in api)
    for m, c in zip(api, cli):  # the same thumbnail, as this app's URL
        assert (m["thumbnail"] is None) == (c["thumbnail"] is None)
        if m["thumbnail"]:
            assert c["thumbnail"].endswith(m["thumbnail"].removeprefix("/files/"))


def test_image_search_by_upload_finds_what_avpipe_search_finds(url, out, tmp_path):
    frame = tmp_path / "frame.png"
    subprocess.run([media.FFMPEG, "-v", "error", "-ss", "9", "-i", str(SAMPLES / "nasa_13013.mp4"), "-frames:v", "1",
                    str(frame)], check=True)
    api = _json(f"{url}/api/search/image?k=3", data=frame.read_bytes(), headers={"Content-Type": "image/png"})
    cli = [json.loads(line) for line in _cli("search", "--image", str(frame), "-k", "3", "--index", str(out)).stdout.splitlines()]
    assert [(m["video_id"], m["start"], m["score"]) for m in api["moments"]] == \
        [(m["video_id"], m["start"], m["score"]) for m in cli]
    assert api["moments"][0]["video_id"].startswith("nasa_13013-")
    status, _, body = _get(f"{url}/api/search/image", data=b"not an image", headers={"Content-Type": "image/png"})
    assert status == 400 and b"not a readable image" in body
    assert _get(f"{url}/api/search?q=%20")[0] == 400


def test_ask_answers_with_evidence(url, out):
    vid = _video_id(out, "jfk-")
    answer = _json(f"{url}/api/videos/{vid}/ask?" + urllib.parse.urlencode({"q": "What should you ask?"}))
    assert answer["method"] == "retrieval" and "country" in answer["answer"]
    assert answer["evidence"] and answer["start"] is not None


def test_the_video_is_served_in_byte_ranges(url, out):
    vid = _video_id(out, "jfk-")
    whole = (SAMPLES / "jfk.mp4").read_bytes()
    status, headers, body = _get(f"{url}/media/{vid}", headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == whole[1000:2000]
    assert headers["content-range"] == f"bytes 1000-1999/{len(whole)}" and headers["content-type"] == "video/mp4"
    status, headers, body = _get(f"{url}/media/{vid}")
    assert status == 200 and body == whole and headers["accept-ranges"] == "bytes"
    status, headers, _ = _get(f"{url}/files/{vid}/transcript.vtt")
    assert status == 200 and headers["content-type"].startswith("text/vtt")
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"


def test_paths_out_of_a_result_folder_are_refused(url, out, tmp_path):
    vid = _video_id(out, "jfk-")
    secret = out / "secret.json"  # a file of the results folder, but of no result folder
    secret.write_text('{"secret": 1}')
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"\xff\xd8 not yours")
    link = out / vid / "keyframes" / "escape.jpg"
    link.symlink_to(outside)
    linked_dir = out / vid / "elsewhere"
    linked_dir.symlink_to(tmp_path, target_is_directory=True)
    try:
        for path in (f"/files/{vid}/../secret.json", f"/files/{vid}/%2e%2e/secret.json", f"/files/{vid}/..%2fsecret.json",
                     f"/files/{vid}/keyframes/escape.jpg", f"/files/{vid}/elsewhere/outside.jpg",
                     f"/files/{vid}/%2fetc%2fpasswd", f"/files/{vid}/.avpipe-key", "/files/../index.jsonl",
                     f"/media/..%2f{vid}", f"/files/{vid}/vectors.npz"):
            status, body = _raw(url, path)
            assert status in (403, 404), (path, status)
            assert b"not yours" not in body and b"secret" not in body, path
        assert _raw(url, f"/files/{vid}/keyframes/00000000.jpg")[0] == 200
    finally:
        link.unlink()
        linked_dir.unlink()
        secret.unlink()


def test_a_loopback_server_answers_only_loopback_names(url, out):
    assert _raw(url, "/api/videos", host="evil.example:8765")[0] == 421  # DNS rebinding
    assert _raw(url, "/api/videos", host="localhost.evil.example")[0] == 421
    assert _raw(url, "/api/videos", host="localhost")[0] == 200
    assert _raw(url, "/api/videos", host="[::1]:8765")[0] == 200
    # a page of another site, in a browser, says so (Sec-Fetch-Site): refused, and nothing is
    # embeddable elsewhere (Cross-Origin-Resource-Policy)
    assert _get(f"{url}/api/videos", headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert _get(f"{url}/api/videos")[1]["cross-origin-resource-policy"] == "same-origin"
    with server(out, "--host", "127.0.0.2") as (base, line):  # any loopback address, no token
        assert "127.0.0.2" in base and "token" not in line
        assert _get(f"{base}/api/videos")[0] == 200


def test_odd_paths_get_a_plain_refusal_not_a_crash(url, out):
    vid = _video_id(out, "jfk-")
    for path in (f"/files/{vid}/a%00b.jpg", f"/files/{vid}/" + "a/" * 3000 + "x.jpg", f"/files/{vid}/%5c..%5cx.jpg",
                 f"/files/{vid}//etc/passwd", f"/files/{vid}/provenance.json", f"/videos/{vid}%00", "/media/%00"):
        status, body = _raw(url, path)
        assert status in (400, 403, 404), (path[:80], status, body[:200])
    status, headers, _ = _get(f"{url}/media/{vid}", headers={}, data=None)
    assert status == 200
    head = urllib.request.Request(f"{url}/media/{vid}", method="HEAD")
    with urllib.request.urlopen(head, timeout=30) as r:
        assert r.status == 200 and int(r.headers["content-length"]) == (SAMPLES / "jfk.mp4").stat().st_size


def test_a_non_loopback_bind_needs_its_token(out):
    with server(out, "--host", "0.0.0.0") as (base, line):
        token = re.search(r"\?token=([\w-]+)", line).group(1)
        assert len(token) >= 24
        assert _get(f"{base}/api/videos")[0] == 401
        assert _get(f"{base}/")[0] == 401
        assert _get(f"{base}/api/videos", headers={"Authorization": "Bearer wrong-token"})[0] == 401
        assert _get(f"{base}/api/videos", headers={"Authorization": f"Bearer {token}"})[0] == 200
        conn = http.client.HTTPConnection(base.split("//")[1], timeout=30)
        conn.request("GET", f"/search?q=a%26b%3Dc&token={token}")  # the printed address: a cookie, then the page
        r = conn.getresponse()
        assert r.status == 303 and r.getheader("location") == "/search?q=a%26b%3Dc"  # the rest kept as it was
        cookie = r.getheader("set-cookie").split(";")[0]
        r.read()
        conn.request("GET", f"/%2F%2Fevil.example?token={token}")  # never a redirect to another host
        r = conn.getresponse()
        assert not r.getheader("location").startswith("//")
        r.read()
        assert _get(f"{base}/search", headers={"Cookie": cookie})[0] == 200
    with server(out, "--host", "0.0.0.0", "--token", "a-secret-of-ours") as (base, _):
        assert _get(f"{base}/api/videos")[0] == 401
        assert _get(f"{base}/api/videos", headers={"X-Avpipe-Token": "a-secret-of-ours"})[0] == 200


def test_a_moved_original_is_said_and_the_results_stay(out, tmp_path):
    from fastapi.testclient import TestClient

    from avpipe.serve import make_app

    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    vid = _video_id(copy, "nasa_13013-")
    provenance = copy / vid / "provenance.json"
    data = json.loads(provenance.read_text())
    data["source"] = str(tmp_path / "gone" / "nasa_13013.mp4")
    provenance.write_text(json.dumps(data))
    result = json.loads((copy / vid / "result.json").read_text())
    result["video"]["path"] = str(tmp_path / "gone" / "nasa_13013.mp4")
    (copy / vid / "result.json").write_text(json.dumps(result))
    client = TestClient(make_app(copy, max_upload_bytes=1000), base_url="http://localhost")
    r = client.get(f"/media/{vid}")
    assert r.status_code == 404 and "not there any more (moved or deleted)" in r.json()["detail"]
    hits = client.get("/api/search", params={"q": "telescope in a clean room", "k": 3}).json()["moments"]
    moved = [m for m in hits if m["video_id"] == vid]
    assert moved and all(m["media"] is None and "not there any more" in m["media_problem"] for m in moved)
    page = client.get(f"/videos/{vid}")
    assert page.status_code == 200 and "not there any more" in page.text and "<video" not in page.text
    assert "telescope" in page.text.lower() or result["transcript"]["segments"][0]["text"][:20] in page.text
    assert client.get(f"/api/videos/{vid}").json()["media"]["url"] is None
    big = client.post("/api/search/image", content=b"x" * 2000, headers={"Content-Type": "image/png"})
    assert big.status_code == 413
    # a file of this machine of another size at the recorded path is not served as the video
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "nasa_13013.mp4").write_bytes(b"someone else's file")
    r = client.get(f"/media/{vid}")
    assert r.status_code == 404 and "is not the one this result was made from" in r.json()["detail"]
    data["source"] = 5  # a damaged provenance.json: the page still opens
    provenance.write_text(json.dumps(data))
    assert client.get(f"/videos/{vid}").status_code == 200


def test_a_failed_input_and_a_damaged_result_are_shown_plainly(out, tmp_path):
    from fastapi.testclient import TestClient

    from avpipe.serve import make_app

    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    with open(copy / "index.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"input": "in/<i>broken.mp4", "status": "error",
                            "error": {"type": "CorruptMedia", "message": "no frame could be decoded"}}) + "\n")
    vid = _video_id(copy, "jfk-")
    (copy / vid / "result.json").write_text('{"truncated": ')
    client = TestClient(make_app(copy), base_url="http://localhost")
    rows = {v["name"]: v for v in client.get("/api/videos").json()["videos"]}
    assert rows["<i>broken.mp4"]["error"] == "CorruptMedia: no frame could be decoded"
    assert "cannot be read" in rows["jfk.mp4"]["error"]
    page = client.get("/").text
    assert "&lt;i&gt;broken.mp4" in page and "<i>broken" not in page
    assert "CorruptMedia: no frame could be decoded" in page
    r = client.get(f"/videos/{vid}")
    assert r.status_code == 409 and "cannot be read" in r.text


# --------------------------------------------------------------------------- in a browser


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no Chromium and chromedriver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


SHOTS = Path(os.environ.get("AVPIPE_SCREENSHOTS", "")) if os.environ.get("AVPIPE_SCREENSHOTS") else None


def test_in_chromium_a_clicked_moment_plays_at_its_time(url, out):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    try:
        browser.get(url + "/")
        rows = browser.find_elements(By.CSS_SELECTOR, "#videos tr.video")
        assert len(rows) == 2
        browser.find_element(By.ID, "filter").send_keys("nasa")
        assert [r.is_displayed() for r in rows].count(True) == 1
        if SHOTS:
            browser.get(url + "/")
            browser.save_screenshot(str(SHOTS / "library.png"))

        browser.get(url + "/search")
        box = browser.find_element(By.ID, "q")
        box.send_keys("ask what you can do for your country")
        browser.find_element(By.ID, "go").click()
        wait = WebDriverWait(browser, 90)
        first = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#hits .moment"))[0]
        start = float(first.get_attribute("data-start"))
        assert first.get_attribute("data-video-id").startswith("jfk-") and start > 5  # "ask what you can do ..." at 8 s
        assert "ask what you can do for your country" in first.text
        first.click()
        player = browser.find_element(By.ID, "player")
        # the video really loaded and seeked there: metadata and a decoded frame, no seek pending
        wait.until(lambda b: b.execute_script("var v = arguments[0]; return v.readyState >= 2 && !v.seeking && "
                                              "v.currentTime > 0;", player))
        now = browser.execute_script("return arguments[0].currentTime;", player)
        assert abs(now - start) < 1.0, (now, start)
        assert browser.execute_script("return arguments[0].error;", player) is None
        if SHOTS:
            browser.save_screenshot(str(SHOTS / "search.png"))
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe  # no script error, no resource refused (the CSP would say so here)

        vid = first.get_attribute("data-video-id")
        browser.get(f"{url}/videos/{vid}")
        marks = browser.find_elements(By.CSS_SELECTOR, "#timeline [data-lane=speech] .mark")
        assert marks[1].location["x"] > marks[0].location["x"] + 100  # placed in time (8 s of 11 s)
        lines = browser.find_elements(By.CSS_SELECTOR, "#transcript p")
        assert len(lines) >= 2 and "SPEAKER_1" in lines[1].text
        lines[1].find_element(By.CSS_SELECTOR, "a.t").click()  # the line seeks the player and lights up
        video = browser.find_element(By.ID, "video")
        wait.until(lambda b: b.execute_script("return !arguments[0].seeking && arguments[0].readyState >= 2;", video))
        at = browser.execute_script("return arguments[0].currentTime;", video)
        assert abs(at - float(lines[1].get_attribute("data-t"))) < 1.0
        wait.until(lambda b: "now" in lines[1].get_attribute("class"))
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe  # nothing the page's Content-Security-Policy had to block
        tracks = browser.execute_script("return Array.from(arguments[0].textTracks).map(t => t.language);", video)
        assert tracks and tracks[0] == "en"
        if SHOTS:
            browser.save_screenshot(str(SHOTS / "video.png"))
    finally:
        browser.quit()


# --------------------------------------------------------------------------- while a run writes


def test_a_run_into_the_served_folder_appears_on_reload(out, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    with server(copy) as (base, _):
        before = {v["name"] for v in _json(f"{base}/api/videos")["videos"]}
        assert before == {"jfk.mp4", "nasa_13013.mp4"}
        run = subprocess.Popen([sys.executable, "-m", "avpipe", "run", str(SAMPLES / "three_shots.mp4"), "--out",
                                str(copy), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        polls = 0
        while run.poll() is None or polls < 3:
            for path in ("/", "/api/videos", "/search"):
                status, _, body = _get(base + path)
                assert status == 200, (path, status, body[:300])
            listed = _json(f"{base}/api/videos")["videos"]
            assert not [v for v in listed if v["error"]], listed
            polls += 1
            time.sleep(0.2)
        assert run.returncode == 0, run.stderr.read()
        assert polls >= 3
        after = _json(f"{base}/api/videos")["videos"]
        assert {v["name"] for v in after} == {"jfk.mp4", "nasa_13013.mp4", "three_shots.mp4"}
        assert "three_shots.mp4" in _get(base + "/")[2].decode()
        # the index the run rebuilt is what search now reads, without a restart
        hits = _json(f"{base}/api/search?q=colour+bars&k=10&modality=frames")["moments"]
        assert any(m["video_id"].startswith("three_shots-") for m in hits)
