"""GPU throughput check for the clip vision backend (for sessions with a CUDA device).

A randomly initialised CLIP image tower with ViT-L/14's shape (24 layers, width 1024, 16 heads,
patch 14, 224 px, projection 768) in float16 encodes batches of 224 px images; reported as
images per second (median of ``--iters`` batches after a warm-up). Random weights cost the same
arithmetic as trained ones. Target on an H100: at least 2,000 images/s.

    python benchmarks/gpu_vision.py --batch 256 --iters 10          # on the GPU node
    python benchmarks/gpu_vision.py --tiny --device cpu --iters 1   # a smoke run anywhere
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny random config (smoke test)")
    args = parser.parse_args()
    if args.tiny:
        config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=224, patch_size=14, projection_dim=16)
    else:  # openai/clip-vit-large-patch14's image tower
        config = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                  num_attention_heads=16, image_size=224, patch_size=14, projection_dim=768)
    dtype = torch.float16 if args.device == "cuda" else torch.float32
    model = CLIPVisionModelWithProjection(config).to(args.device, dtype).eval()
    pixels = torch.randn(args.batch, 3, 224, 224, device=args.device, dtype=dtype)

    def step() -> float:
        if args.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            _ = model(pixel_values=pixels).image_embeds
        if args.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    step()
    median = statistics.median(step() for _ in range(args.iters))
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device {name}; {'tiny' if args.tiny else 'ViT-L/14-sized'} random CLIP image tower, {dtype}; batch {args.batch}")
    print(f"median {median:.3f} s per batch over {args.iters} runs -> {args.batch / median:.0f} images/s")


if __name__ == "__main__":
    main()
