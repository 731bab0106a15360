"""One GPU check, one command, one table: what avpipe's models do on this device.

    python benchmarks/gpu_check.py                      # on a GPU node (about 5 minutes on one H100)
    python benchmarks/gpu_check.py --tiny --device cpu  # a smoke run anywhere (the test suite runs it)

Rows (each measured after a warm-up, median of ``--iters`` runs; random weights cost the same
arithmetic as trained ones, so the speeds are representative and the words are not):

* ``whisper``: a random Whisper with large-v3-turbo's shape (128 mel bins, d_model 1280, 32
  encoder and 4 decoder layers, 51,866 tokens), half precision, ``--asr-batch`` 30-second
  windows decoding exactly ``--tokens`` tokens each: x real time. 96 tokens per 30 s is more than
  fast speech needs (2.5 words/s x 1.3 tokens/word x 30 s = 98).
* ``clip``: a random CLIP ViT-L/14 image tower (224 px): images/s at batch ``--image-batch``.
* ``siglip``: a random SigLIP So400m/14 image tower at 384 px (the GPU profile's): images/s.
* ``vlm``: a random Qwen2.5-VL-7B (the GPU profile's captioner) through avpipe's own captioning
  code (:func:`avpipe.vision.vlm.caption`: chat template, processor, batched greedy decoding) on
  480x270 keyframes, ``--vlm-batch`` at a time, ``--caption-tokens`` tokens each: captions/s.
* ``profile``: what those rates make of the GPU profile's model work on a ``--minutes`` video
  (its audio through Whisper; its keyframes, one per 10 s, through SigLIP; a caption per 20 s
  shot): video-hours per GPU-hour of model time. An estimate from the rows above, labelled so.
* ``pipeline``: the real bundled models end to end (``avpipe run``, default pipeline, on
  ``--device``) over sample_videos/, and over a ``--minutes`` video when ``--long FILE`` is
  given: video-hours per GPU-hour of wall time, seconds per stage, peak device memory (all
  allocators: CTranslate2's too). Skipped, saying why, where avpipe's dependencies or bundled
  weights are not installed.

``--tiny`` swaps every model for a tiny config of the same architecture (and the pipeline row
for the shortest sample video), so the whole script runs in a minute on a CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(step, iters: int, device: str) -> float:
    """Median seconds of ``step()`` over ``iters`` runs after one warm-up."""
    import torch

    def once() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    once()
    return statistics.median(once() for _ in range(iters))


def half(device: str):
    import torch

    return torch.float16 if device == "cuda" else torch.float32


def whisper_row(args) -> dict:
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    if args.tiny:
        shape = dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                     decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128)
    else:  # openai/whisper-large-v3-turbo
        shape = dict(d_model=1280, encoder_layers=32, decoder_layers=4, encoder_attention_heads=20,
                     decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120)
    config = WhisperConfig(vocab_size=51866, num_mel_bins=128, max_source_positions=1500, max_target_positions=448,
                           decoder_start_token_id=50258, pad_token_id=50257, eos_token_id=50257, bos_token_id=50257,
                           **shape)
    dtype = half(args.device)
    with torch.device(args.device):
        model = WhisperForConditionalGeneration(config).to(dtype).eval()
    batch = args.asr_batch
    mels = torch.randn(batch, 128, 3000, device=args.device, dtype=dtype)
    start = torch.full((batch, 1), 50258, device=args.device)

    def step():
        with torch.inference_mode():
            encoded = model.model.encoder(mels)
            model.generate(encoder_outputs=encoded, decoder_input_ids=start, max_new_tokens=args.tokens,
                           min_new_tokens=args.tokens, do_sample=False, use_cache=True)

    seconds = timed(step, args.iters, args.device)
    return {"row": "whisper", "what": f"{'tiny' if args.tiny else 'large-v3-turbo'}-shaped, batch {batch} x 30 s, "
            f"{args.tokens} tokens", "seconds": seconds, "rate": batch * 30.0 / seconds, "unit": "x real time"}


def image_row(args, name: str) -> dict:
    import torch

    if name == "clip":
        from transformers import CLIPVisionConfig as Config, CLIPVisionModelWithProjection as Model

        size, shape = 224, dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                num_attention_heads=16, patch_size=14, projection_dim=768)
        what = "CLIP ViT-L/14 image tower, 224 px"
    else:
        from transformers import SiglipVisionConfig as Config, SiglipVisionModel as Model

        size, shape = 384, dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                num_attention_heads=16, patch_size=14)
        what = "SigLIP So400m/14 image tower, 384 px"
    if args.tiny:
        shape = {**shape, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
        what = "tiny " + what
    with torch.device(args.device):
        model = Model(Config(image_size=size, **shape)).to(half(args.device)).eval()
    batch = args.image_batch
    pixels = torch.randn(batch, 3, size, size, device=args.device, dtype=half(args.device))

    def step():
        with torch.inference_mode():
            model(pixel_values=pixels)

    seconds = timed(step, args.iters, args.device)
    return {"row": name, "what": f"{what}, batch {batch}", "seconds": seconds, "rate": batch / seconds,
            "unit": "images/s"}


def vlm_row(args) -> dict:
    import numpy as np
    import torch

    from avpipe.vision.random_models import qwen25_vl
    from avpipe.vision.vlm import VLM, caption

    size = "tiny" if args.tiny else "7b"
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    processor, model = qwen25_vl(size, device=args.device, dtype=dtype)
    model.generation_config.eos_token_id = None  # random weights: every caption runs its full length
    vlm = VLM(name=f"random Qwen2.5-VL-{size}", processor=processor, model=model, device=args.device)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (270, 480, 3), dtype=np.uint8) for _ in range(args.vlm_batch)]

    def step():
        caption(vlm, images, max_new_tokens=args.caption_tokens, batch_size=args.vlm_batch)

    seconds = timed(step, max(1, args.iters // 2), args.device)
    return {"row": "vlm", "what": f"Qwen2.5-VL-{size}-shaped via avpipe.vision.vlm, batch {args.vlm_batch} x 480x270, "
            f"{args.caption_tokens} tokens", "seconds": seconds, "rate": args.vlm_batch / seconds, "unit": "captions/s"}


def profile_row(rows: dict, minutes: float) -> dict:
    """Model seconds of the GPU profile on a ``minutes`` video, from the measured rates."""
    video_s = minutes * 60
    parts = {"whisper": video_s / rows["whisper"]["rate"], "siglip": (video_s / 10) / rows["siglip"]["rate"],
             "vlm": (video_s / 20) / rows["vlm"]["rate"]}
    total = sum(parts.values())
    return {"row": "profile", "what": f"estimate, model time only, {minutes:g}-min video: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()), "seconds": total,
            "rate": video_s / total, "unit": "video-hours per GPU-hour"}


class MemoryPeak:
    """The device memory in use (every allocator's), sampled every 50 ms while it runs."""

    def __init__(self, device: str) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def _watch(self) -> None:
        import torch

        while not self._stop.is_set():
            free, total = torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            time.sleep(0.05)

    def __enter__(self):
        if self.device == "cuda":
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.device == "cuda":
            self._thread.join()


def pipeline_rows(args) -> list[dict]:
    try:
        import av  # noqa: F401  (the decoder)
        import faster_whisper  # noqa: F401

        from avpipe.config import load_pipeline, missing_models

        pipeline = load_pipeline("default")
        missing = missing_models(pipeline)
        if missing:
            raise RuntimeError(f"bundled models not installed: {', '.join(missing)}")
    except Exception as exc:  # noqa: BLE001 - report, do not fail the other rows
        return [{"row": "pipeline", "what": f"skipped: {type(exc).__name__}: {exc}"}]
    import dataclasses

    from avpipe.runner import RunOptions, run_batch

    samples = sorted((ROOT / "sample_videos").glob("*.mp4"))
    sets = [("sample_videos", [min(samples, key=lambda p: p.stat().st_size)] if args.tiny else samples)]
    if args.long:
        sets.append((Path(args.long).name, [Path(args.long)]))
    rows = []
    for name, inputs in sets:
        with tempfile.TemporaryDirectory() as out, MemoryPeak(args.device) as memory:
            t0 = time.perf_counter()
            summary = run_batch([str(p) for p in inputs], out, dataclasses.replace(pipeline, device=args.device),
                                RunOptions(workers=0, progress=False))
            wall = time.perf_counter() - t0
            stages, duration = {}, 0.0
            for record in summary.records:
                result = json.loads((Path(out) / record.result).read_text())
                duration += result["video"]["duration_s"] or 0.0
                for stage, info in result["stages"].items():
                    stages[stage] = stages.get(stage, 0.0) + info["seconds"]
        per_stage = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        memory_mb = f"; peak device memory {memory.peak / 2**20:,.0f} MiB" if args.device == "cuda" else ""
        rows.append({"row": "pipeline", "what": f"default, bundled models, {name} ({duration:.0f} s of media): "
                     f"stage seconds {per_stage}{memory_mb}", "seconds": wall, "rate": duration / wall,
                     "unit": "video-hours per GPU-hour" if args.device == "cuda" else "x real time"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny configs of the same architectures (a smoke run)")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--asr-batch", type=int, default=None, help="30-second windows per batch (default 64; tiny 2)")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per window (default 96; tiny 4)")
    parser.add_argument("--image-batch", type=int, default=None, help="images per batch (default 256; tiny 2)")
    parser.add_argument("--vlm-batch", type=int, default=None, help="keyframes captioned together (default 64; tiny 2)")
    parser.add_argument("--caption-tokens", type=int, default=None, help="tokens per caption (default 40; tiny 4)")
    parser.add_argument("--minutes", type=float, default=30.0, help="video length of the profile estimate")
    parser.add_argument("--long", default=None, metavar="FILE", help="also run the pipeline on this (long) video")
    parser.add_argument("--skip", default="", help="comma-separated rows to leave out")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    small = args.tiny
    args.asr_batch = args.asr_batch or (2 if small else 64)
    args.tokens = args.tokens or (4 if small else 96)
    args.image_batch = args.image_batch or (2 if small else 256)
    args.vlm_batch = args.vlm_batch or (2 if small else 64)
    args.caption_tokens = args.caption_tokens or (4 if small else 40)
    if small:
        args.iters = min(args.iters, 2)
    skip = set(filter(None, args.skip.split(",")))

    import torch

    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    rows: dict[str, dict] = {}
    extra: list[dict] = []
    for key, run in (("whisper", whisper_row), ("clip", lambda a: image_row(a, "clip")),
                     ("siglip", lambda a: image_row(a, "siglip")), ("vlm", vlm_row)):
        if key in skip:
            continue
        try:
            rows[key] = run(args)
        except Exception as exc:  # noqa: BLE001 - one failed row must not hide the others
            rows[key] = {"row": key, "what": f"failed: {type(exc).__name__}: {str(exc)[:300]}"}
        if args.device == "cuda":
            torch.cuda.empty_cache()
        print(json.dumps(rows[key]), file=sys.stderr, flush=True)
    if all("rate" in rows.get(k, {}) for k in ("whisper", "siglip", "vlm")):
        extra.append(profile_row(rows, args.minutes))
    if "pipeline" not in skip:
        extra += pipeline_rows(args)
    table = [*rows.values(), *extra]
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "rows": table}, indent=1))
    print(f"\ngpu_check on {name} (torch {torch.__version__}{', tiny configs' if args.tiny else ''})")
    print(f"| {'row':8} | {'rate':>12} | {'unit':24} | {'median s':>8} | what |")
    print(f"|{'-' * 10}|{'-' * 14}|{'-' * 26}|{'-' * 10}|------|")
    for r in table:
        rate = f"{r['rate']:,.1f}" if "rate" in r else "-"
        seconds = f"{r['seconds']:.3f}" if "seconds" in r else "-"
        print(f"| {r['row']:8} | {rate:>12} | {r.get('unit', ''):24} | {seconds:>8} | {r['what']} |")


if __name__ == "__main__":
    main()
