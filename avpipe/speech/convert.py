"""Convert CTranslate2 Whisper weights (the only Whisper weights that install offline) into an
openai-whisper checkpoint and a Hugging Face transformers folder: the same tensors, renamed, with
CTranslate2's fused attention projections split back into query, key and value.

CTranslate2's ``model.bin`` (binary version 6) is read directly; the layout, in little-endian:
``u32 version``, ``str spec name``, ``u32 spec revision``, ``u32 count`` variables each
``str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, bytes``, then ``u32 count`` aliases
each ``str alias, str target``; a ``str`` is ``u16 length`` then that many bytes (NUL-ended).

Run as ``avpipe models convert NAME --to openai|transformers``; the speech backends call it on
first use and keep the result in the model cache.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AvpipeError

if TYPE_CHECKING:
    import numpy as np

# CTranslate2 DataType enum values and the numpy types they hold.
_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


class ConversionError(AvpipeError, ValueError):
    """The CTranslate2 file is not a Whisper model this converter understands."""


def read_ct2(folder: Path) -> dict[str, "np.ndarray"]:
    """Every variable of ``folder/model.bin`` as a numpy array (aliases resolved)."""
    import numpy as np

    path = Path(folder) / "model.bin"
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string() -> str:
        nonlocal pos
        n = take("H")
        s = data[pos : pos + n].rstrip(b"\0").decode("utf-8")
        pos += n
        return s

    version = take("I")
    if version < 5:
        raise ConversionError(f"CTranslate2 binary version {version} is older than this converter reads", path)
    spec = string()
    take("I")  # spec revision
    if spec != "WhisperSpec":
        raise ConversionError(f"not a Whisper model (spec {spec!r})", path)
    out: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        dims = [take("I") for _ in range(rank)]
        dtype = _DTYPES.get(take("B"))
        nbytes = take("I")
        if dtype is None or dtype == "bfloat16":
            raise ConversionError(f"unsupported data type in {name}", path)
        array = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=pos)
        pos += nbytes
        out[name] = array.reshape(dims) if dims else array[0]
    for _ in range(take("I")):
        alias, target = string(), string()
        out[alias] = out[target]
    if any(k.endswith("weight_scale") for k in out):
        raise ConversionError("int8-quantised weights cannot be converted back losslessly", path)
    return out


def dimensions(ct2: dict) -> dict[str, int]:
    """openai-whisper's ModelDimensions from the tensor shapes."""
    layers = lambda side: len({m.group(1) for k in ct2 if (m := re.match(rf"{side}/layer_(\d+)/", k))})  # noqa: E731
    return {
        "n_mels": int(ct2["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(ct2["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(ct2["encoder/conv1/weight"].shape[0]),
        "n_audio_head": int(ct2["encoder/num_heads"]),
        "n_audio_layer": layers("encoder"),
        "n_vocab": int(ct2["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(ct2["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(ct2["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(ct2["decoder/num_heads"]),
        "n_text_layer": layers("decoder"),
    }


def _split(array, parts: int) -> list:
    import numpy as np

    return np.split(array, parts, axis=0)


def to_openai(ct2: dict) -> dict[str, "np.ndarray"]:
    """openai-whisper ``model_state_dict`` (float32 numpy arrays) from CTranslate2 variables."""
    import numpy as np

    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    sd: dict[str, np.ndarray] = {}
    dims = dimensions(ct2)

    def ln(dst: str, src: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = f32(ct2[f"{src}/gamma"]), f32(ct2[f"{src}/beta"])

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = f32(ct2[f"{src}/weight"])
        if bias:
            sd[f"{dst}.bias"] = f32(ct2[f"{src}/bias"])

    def fused(dst: str, src: str, names: list[str]) -> None:
        weights = _split(ct2[f"{src}/weight"], len(names))
        biases = _split(ct2[f"{src}/bias"], len(names))
        for name, w, b in zip(names, weights, biases):
            sd[f"{dst}.{name}.weight"] = f32(w)
            if name != "key":  # Whisper's key projections have no bias (CTranslate2 stores zeros)
                sd[f"{dst}.{name}.bias"] = f32(b)

    for side in ("encoder", "decoder"):
        n_layers = dims["n_audio_layer" if side == "encoder" else "n_text_layer"]
        for i in range(n_layers):
            src, dst = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            ln(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            fused(f"{dst}.attn", f"{src}/self_attention/linear_0", ["query", "key", "value"])
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            if side == "decoder":
                ln(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                fused(f"{dst}.cross_attn", f"{src}/attention/linear_1", ["key", "value"])
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
            ln(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    sd["encoder.positional_embedding"] = f32(ct2["encoder/position_encodings/encodings"])
    ln("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = f32(ct2["decoder/embeddings/weight"])
    sd["decoder.positional_embedding"] = f32(ct2["decoder/position_encodings/encodings"])
    ln("decoder.ln", "decoder/layer_norm")
    return sd


def alignment_heads(folder: Path) -> list[tuple[int, int]]:
    """(layer, head) pairs whose cross-attention follows the audio, from ``config.json``."""
    config = json.loads((Path(folder) / "config.json").read_text())
    return [tuple(pair) for pair in config.get("alignment_heads", [])]


def write_openai_checkpoint(ct2_folder: Path, out: Path) -> Path:
    """An openai-whisper ``.pt`` (``{"dims", "model_state_dict"}``, loadable with
    ``torch.load(weights_only=True)`` and ``whisper.load_model(path)``)."""
    import torch

    ct2 = read_ct2(ct2_folder)
    state = {k: torch.from_numpy(v.copy()) for k, v in to_openai(ct2).items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save({"dims": dimensions(ct2), "model_state_dict": state}, tmp)
    os.replace(tmp, out)
    return out


def _hf_name(openai_key: str) -> str:
    """openai-whisper state-dict key -> transformers WhisperForConditionalGeneration key."""
    k = openai_key
    for a, b in [
        ("encoder.positional_embedding", "encoder.embed_positions.weight"),
        ("decoder.positional_embedding", "decoder.embed_positions.weight"),
        ("decoder.token_embedding", "decoder.embed_tokens"),
        ("encoder.ln_post", "encoder.layer_norm"),
        ("decoder.ln.", "decoder.layer_norm."),
        (".blocks.", ".layers."),
        (".cross_attn_ln.", ".encoder_attn_layer_norm."),
        (".cross_attn.", ".encoder_attn."),
        (".attn_ln.", ".self_attn_layer_norm."),
        (".attn.", ".self_attn."),
        (".mlp_ln.", ".final_layer_norm."),
        (".mlp.0.", ".fc1."),
        (".mlp.2.", ".fc2."),
        (".query.", ".q_proj."),
        (".key.", ".k_proj."),
        (".value.", ".v_proj."),
        (".out.", ".out_proj."),
    ]:
        k = k.replace(a, b)
    return "model." + k


def write_transformers_folder(ct2_folder: Path, out: Path) -> Path:
    """A transformers Whisper folder (config, generation config, safetensors weights, tokenizer,
    feature extractor) that ``WhisperForConditionalGeneration.from_pretrained`` loads offline."""
    import numpy as np
    from safetensors.numpy import save_file
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperTokenizerFast

    ct2_folder = Path(ct2_folder)
    ct2 = read_ct2(ct2_folder)
    dims = dimensions(ct2)
    ct2_config = json.loads((ct2_folder / "config.json").read_text())
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(ct2_folder / "tokenizer.json"))
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in (
        "<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "<|transcribe|>", "<|translate|>",
        "<|startofprev|>")}
    multilingual = dims["n_vocab"] >= 51865
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    config = WhisperConfig(
        vocab_size=dims["n_vocab"], num_mel_bins=dims["n_mels"], d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"], encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"], decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"], decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"], max_target_positions=dims["n_text_ctx"],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"], tie_word_embeddings=True)
    config.save_pretrained(tmp)
    weights = {_hf_name(k): np.ascontiguousarray(v) for k, v in to_openai(ct2).items()}
    save_file(weights, str(tmp / "model.safetensors"))
    languages = {}
    if multilingual:
        # Only multilingual models get language and task tables: transformers runs language
        # detection whenever the generation config has a lang_to_id, even an empty one.
        languages = dict(
            lang_to_id={tokenizer.convert_ids_to_tokens(i): i for i in ct2_config.get("lang_ids", [])},
            task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
            # as in OpenAI's own checkpoints: position 1 the language (detected), 2 the task
            forced_decoder_ids=[[1, None], [2, ids["<|transcribe|>"]]])
    generation = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
        no_timestamps_token_id=ids["<|notimestamps|>"], prev_sot_token_id=ids["<|startofprev|>"],
        is_multilingual=multilingual, max_initial_timestamp_index=50, max_length=dims["n_text_ctx"],
        suppress_tokens=ct2_config.get("suppress_ids", []), begin_suppress_tokens=ct2_config.get("suppress_ids_begin", []),
        alignment_heads=[list(p) for p in alignment_heads(ct2_folder)], **languages)
    generation.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    WhisperFeatureExtractor(feature_size=dims["n_mels"]).save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def cached_conversion(model: str, kind: str) -> tuple[Path, Path]:
    """(CTranslate2 folder, converted copy) for ``model``; the copy lives in avpipe's model
    cache, is written on first use, and again when the source weights are newer.

    ``kind`` is "openai-whisper" (a ``.pt`` file) or "transformers" (a folder).
    """
    import hashlib

    from ..models import REGISTRY, derived, home, resolve

    folder = resolve(model)
    key = model if model in REGISTRY else hashlib.blake2b(str(folder.resolve()).encode(), digest_size=6).hexdigest()
    out = home() / "models" / (f"{key}-openai-whisper.pt" if kind == "openai-whisper" else f"{key}-transformers")
    write = write_openai_checkpoint if kind == "openai-whisper" else write_transformers_folder
    newer = lambda p: p.stat().st_mtime < (folder / "model.bin").stat().st_mtime  # the source changed
    return folder, derived(out, lambda tmp: write(folder, tmp), stale=newer)
