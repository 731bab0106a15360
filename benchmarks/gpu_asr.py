"""GPU throughput check for batched Whisper decoding (for sessions with a CUDA device).

Builds a randomly initialised Whisper with large-v3-turbo's shape (128 mel bins, d_model 1280,
32 encoder layers, 4 decoder layers, 20 heads, 51,866 tokens) in float16, feeds it batches of
30-second log-mel windows, and decodes exactly ``--tokens`` tokens per window (a fixed budget:
random weights would otherwise stop at once or never). Reports audio-hours per GPU-hour, i.e.
the real-time factor of encoder + decoder at that budget. Random weights cost the same
arithmetic as trained ones, so the speed is representative; the words are not.

    python benchmarks/gpu_asr.py --batch 64 --tokens 96 --iters 5     # on the GPU node
    python benchmarks/gpu_asr.py --tiny --device cpu --iters 1         # a smoke run anywhere

The target for an H100 is at least 500x real time. 96 tokens per 30 s is more than speech
needs (about 2.5 words/s x 1.3 tokens/word x 30 s = 98 tokens at the fast end).
"""

from __future__ import annotations

import argparse
import statistics
import time


def build(tiny: bool, device: str, dtype):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    if tiny:
        config = WhisperConfig(vocab_size=51866, num_mel_bins=128, d_model=64, encoder_layers=2, decoder_layers=2,
                               encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
                               decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=448)
    else:  # the shape of openai/whisper-large-v3-turbo
        config = WhisperConfig(vocab_size=51866, num_mel_bins=128, d_model=1280, encoder_layers=32, decoder_layers=4,
                               encoder_attention_heads=20, decoder_attention_heads=20, encoder_ffn_dim=5120,
                               decoder_ffn_dim=5120, max_source_positions=1500, max_target_positions=448)
    config.decoder_start_token_id = 50258
    config.pad_token_id = config.eos_token_id = config.bos_token_id = 50257
    model = WhisperForConditionalGeneration(config).to(device=device, dtype=dtype).eval()
    return model


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="30-second windows decoded together")
    parser.add_argument("--tokens", type=int, default=96, help="tokens decoded per window")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny random config (smoke test)")
    args = parser.parse_args()
    dtype = torch.float16 if args.device == "cuda" else torch.float32
    model = build(args.tiny, args.device, dtype)
    mels = torch.randn(args.batch, 128, 3000, device=args.device, dtype=dtype)
    start = torch.full((args.batch, 1), model.config.decoder_start_token_id, device=args.device)

    def step() -> float:
        if args.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            encoded = model.model.encoder(mels)
            model.generate(encoder_outputs=encoded, decoder_input_ids=start, max_new_tokens=args.tokens,
                           min_new_tokens=args.tokens, do_sample=False, use_cache=True)
        if args.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    step()  # warm-up: kernels, allocator
    times = [step() for _ in range(args.iters)]
    median = statistics.median(times)
    audio_s = args.batch * 30.0
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"device {name}; {'tiny' if args.tiny else 'large-v3-turbo-sized'} random Whisper, {dtype}; "
          f"batch {args.batch} x 30 s, {args.tokens} tokens each")
    print(f"median {median:.3f} s per batch over {args.iters} runs -> {audio_s / median:.0f}x real time "
          f"({audio_s / median:.0f} audio-hours per GPU-hour)")


if __name__ == "__main__":
    main()
