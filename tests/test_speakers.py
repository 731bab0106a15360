"""Speakers: the GE2E encoder, diarization, DER, and what the pipeline writes with them."""

import json
import shutil

import numpy as np
import pytest

import media
from avpipe.cli import main
from avpipe.config import load_pipeline
from avpipe.evaluate import der
from avpipe.options import SpeakerOptions
from avpipe.pipeline import process_video
from avpipe.speech.speakers import _smooth, cluster, embed, mel_filters, mel_frames

needs_voice = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (made voices)")


@pytest.fixture(scope="module")
def speaker_set(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (made voices)")
    return media.speaker_set(tmp_path_factory.mktemp("speakers"))


def _turns(segments) -> list[str]:
    """Speakers in order of their turns (consecutive segments of one speaker are one turn)."""
    out: list[str] = []
    for s in segments:
        if s.speaker and (not out or out[-1] != s.speaker):
            out.append(s.speaker)
    return out


def test_der_counts_miss_false_alarm_and_confusion():
    ref = [(0.0, 4.0, "a"), (5.0, 9.0, "b")]
    assert der(ref, [(0.0, 4.0, "x"), (5.0, 9.0, "y")])["der"] == 0.0  # names are matched, not compared
    assert der(ref, [])["der"] == 1.0
    assert der(ref, [(0.0, 9.0, "x")])["der"] > 0.4  # b's speech given to a's speaker, plus the gap
    score = der(ref, [(0.0, 4.2, "x"), (5.0, 9.0, "y")])  # 0.2 s too long: inside the 0.25 s collar
    assert score["der"] == 0.0 and score["found_speakers"] == 2


def test_mel_features_follow_the_encoders_recipe():
    filters = mel_filters()
    assert filters.shape == (40, 201) and (filters >= 0).all()
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()  # bands rise in frequency
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    frames = mel_frames(tone)
    assert frames.shape == (101, 40)  # 10 ms hop, centred
    assert frames.mean(axis=0).argmax() == np.abs(filters[:, round(440 / 40)]).argmax()


def test_voice_vectors_are_unit_and_tell_two_voices_apart(speaker_set):
    from avpipe.decode import load_audio
    from avpipe.probe import probe

    videos, ref = speaker_set
    turns = json.loads(ref.read_text().splitlines()[0])["turns"]  # narrator, kennedy, narrator, kennedy
    audio = load_audio(videos[0], probe(videos[0])).samples
    pieces = [audio[int(t["start"] * 16000):int(t["start"] * 16000) + 32000] for t in turns]
    v = embed(pieces)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    same = [v[0] @ v[2], v[1] @ v[3]]
    different = [v[0] @ v[1], v[2] @ v[3], v[0] @ v[3]]
    assert min(same) > max(different)


def test_a_run_of_one_word_between_two_turns_of_one_speaker_is_theirs():
    assert _smooth([0, 0, 1, 0, 0, 1, 1, 1], 1) == [0, 0, 0, 0, 0, 1, 1, 1]
    assert _smooth([0, 0, 1, 1, 0, 0], 1) == [0, 0, 1, 1, 0, 0]


def test_count_fixes_the_number_of_clusters():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 256))
    vectors = np.concatenate([base[k] + 0.05 * rng.normal(size=(6, 256)) for k in range(3)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    seconds = np.full(len(vectors), 1.6)
    assert len(set(cluster(vectors, seconds, SpeakerOptions()))) == 3  # estimated
    assert len(set(cluster(vectors, seconds, SpeakerOptions(count=2)))) == 2


def test_eval_speakers_on_real_and_made_dialogues(speaker_set, capsys):
    """Two real voices in alternating lines come out as two speakers, alternating; one voice as
    one; two made voices alternate too. (Three similar made voices are found as two: see README.)"""
    videos, ref = speaker_set
    assert main(["eval", "speakers", *map(str, videos[:3]), "--ref", str(ref)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    by_video = {r["input"].rsplit("/", 1)[-1]: r for r in rows if "input" in r}
    two = by_video["real_two_voices.mp4"]
    assert two["found_speakers"] == 2 and two["confusion"] <= 0.5 and two["der"] < 0.15
    order = [t["speaker"] for t in two["turns"]]
    collapsed = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
    assert collapsed == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_1", "SPEAKER_2"]
    assert by_video["real_one_voice.mp4"]["found_speakers"] == 1
    made = by_video["espeak_two_voices.mp4"]
    assert made["found_speakers"] == 2 and made["der"] < 0.1
    assert rows[-1]["der"] < 0.1  # over the three


def test_pipeline_names_speakers_in_result_subtitles_events_and_report(speaker_set, tmp_path):
    videos, _ = speaker_set
    result = process_video(videos[0], "dialogue", tmp_path, load_pipeline("default"))
    assert result.errors == []
    segments = result.transcript.segments
    assert _turns(segments) == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_1", "SPEAKER_2"]
    assert all(w.speaker == s.speaker for s in segments for w in s.words)
    changes = [e for e in result.events if e.kind == "speaker_change"]
    assert [e.label for e in changes] == ["SPEAKER_1 -> SPEAKER_2", "SPEAKER_2 -> SPEAKER_1", "SPEAKER_1 -> SPEAKER_2"]
    assert {span.speaker for span in result.emotion_timeline} == {"SPEAKER_1", "SPEAKER_2"}
    assert result.stages["speakers"].model == "resemblyzer-ge2e"
    from avpipe.writers import write_html, write_srt

    srt = write_srt(result, tmp_path).read_text()
    assert "SPEAKER_1: " in srt and "SPEAKER_2: " in srt
    assert "speaker-2" in write_html(result, tmp_path).read_text()


def test_a_voice_split_in_two_is_one_speaker():
    """Two tight groups of windows: two speakers when their centres differ, one when they are
    as alike as one voice in two recording conditions (``merge_similarity``)."""
    rng = np.random.default_rng(1)

    def groups(similarity: float) -> np.ndarray:
        a = rng.normal(size=256)
        a /= np.linalg.norm(a)
        other = rng.normal(size=256)
        other -= (other @ a) * a
        other /= np.linalg.norm(other)
        b = similarity * a + np.sqrt(1 - similarity**2) * other
        v = np.concatenate([c + 0.01 * rng.normal(size=(10, 256)) for c in (a, b)])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    seconds = np.full(20, 1.6)
    assert len(set(cluster(groups(0.5), seconds, SpeakerOptions()))) == 2
    assert len(set(cluster(groups(0.95), seconds, SpeakerOptions()))) == 1
    assert len(set(cluster(groups(0.95), seconds, SpeakerOptions(merge_similarity=0.99)))) == 2
    assert len(set(cluster(groups(0.95), seconds, SpeakerOptions(count=2)))) == 2  # a given count stands


def test_a_speaker_with_too_little_speech_is_dissolved_whatever_the_vectors_signs():
    """Voice vectors of another encoder have negative components (GE2E's are >= 0): the small
    cluster's windows still go to another cluster, and the loop ends."""
    rng = np.random.default_rng(2)
    a, b = -np.abs(rng.normal(size=256)), -np.abs(rng.normal(size=256))
    b[:128] *= 0.1
    a[128:] *= 0.1
    vectors = np.concatenate([a + 0.02 * rng.normal(size=(12, 256)), b + 0.02 * rng.normal(size=(2, 256))])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    seconds = np.array([1.6] * 12 + [0.5, 0.5])  # the second voice has 1 s: under min_speaker_s
    labels = cluster(vectors, seconds, SpeakerOptions(merge_similarity=1.0))
    assert len(set(labels)) == 1


def test_the_speaker_timeline_covers_speech_no_word_was_found_in(speaker_set):
    """Whisper skips a line (as it does overlapped speech and back-channel): the line gets no
    segment, but the timeline still says who spoke it, from what the VAD heard. (The voices are
    found on the words alone: with one of Kennedy's two lines left, the pipeline is told two.)"""
    from avpipe.decode import load_audio
    from avpipe.probe import probe
    from avpipe.speech import transcribe
    from avpipe.speech.speakers import diarize

    videos, ref = speaker_set
    reference = json.loads(ref.read_text().splitlines()[0])["turns"]  # narrator, kennedy, narrator, kennedy
    audio = load_audio(videos[0], probe(videos[0])).samples
    transcript, _ = transcribe(audio, load_pipeline("default").speech)
    second = reference[1]
    kept = [s for s in transcript.segments if not (s.start < second["end"] and s.end > second["start"])]
    assert len(kept) < len(transcript.segments)
    found = diarize(audio, kept, SpeakerOptions(count=2))
    assert found.count == 2
    skipped = [(a, b, who) for a, b, who in found.turns if a < second["end"] - 0.5 and b > second["start"] + 0.5]
    assert skipped and all(who == "SPEAKER_2" for *_, who in skipped)
    assert sum(min(b, second["end"]) - max(a, second["start"]) for a, b, _ in skipped) > \
        0.7 * (second["end"] - second["start"])
    assert der([(t["start"], t["end"], t["speaker"]) for t in reference], found.turns)["der"] < 0.15
    words_only = diarize(audio, kept, SpeakerOptions(count=2, vad_turns=False))
    assert not [t for t in words_only.turns if t[0] < second["end"] - 0.5 and t[1] > second["start"] + 0.5]
    turns = found.turns
    assert all(a < b for a, b, _ in turns) and all(x[1] <= y[0] + 1e-6 for x, y in zip(turns, turns[1:]))
