"""Randomly initialised vision-language models built from a real architecture's config, with a
real processor of that architecture, and no network: what the tests run the VLM code on (tiny)
and what ``benchmarks/gpu_check.py`` times at a real model's shape.

The architecture is Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration`` with
``Qwen2_5_VLProcessor``: its image processor, its placeholder expansion, a chat template in its
format), the VLM of ``pipelines/gpu.toml``. Its tokenizer is a word-level one made here with
the ``tokenizers`` library (the real vocabulary is a hub download): words ``w0`` ... so that
every id a random model writes decodes, plus the special tokens the processor looks for.
Random weights cost the same arithmetic as trained ones; their words mean nothing.
"""

from __future__ import annotations

from pathlib import Path

#: The special tokens Qwen2.5-VL's processor and chat template use.
SPECIAL = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
           "<|endoftext|>")

#: Qwen2.5-VL's chat template, reduced to what avpipe sends: system/user/assistant turns whose
#: content is a string or a list of image and text parts.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

#: Config sizes: "tiny" for tests on the CPU; "7b" is Qwen2.5-VL-7B-Instruct's shape.
SIZES = {
    "tiny": dict(vocab=512, vision=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                                        fullatt_block_indexes=[1], window_size=56),
                 text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=2, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                                   "mrope_section": [2, 3, 3]})),
    "7b": dict(vocab=152064, vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                                         out_hidden_size=3584, fullatt_block_indexes=[7, 15, 23, 31], window_size=112),
               text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                         num_key_value_heads=4, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                                 "mrope_section": [16, 24, 24]})),
}


def processor(vocab: int = 512, max_pixels: int = 448 * 448):
    """A ``Qwen2_5_VLProcessor`` with a word-level tokenizer of ``vocab`` ids (specials included)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    words = {w: i for i, w in enumerate([*SPECIAL, "[UNK]", "[PAD]"])}
    words.update({f"w{i}": i for i in range(len(words), vocab)})
    core = Tokenizer(models.WordLevel(words, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]",
                                        eos_token="<|im_end|>", additional_special_tokens=list(SPECIAL),
                                        model_input_names=["input_ids", "attention_mask"])
    images = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=max_pixels)
    videos = Qwen2VLVideoProcessor(min_pixels=28 * 28 * 4, max_pixels=max_pixels)
    return Qwen2_5_VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=videos,
                               chat_template=CHAT_TEMPLATE)


def qwen25_vl(size: str = "tiny", device: str = "cpu", dtype=None, seed: int = 0):
    """(processor, model): a random Qwen2.5-VL of ``size`` (:data:`SIZES`) on ``device``."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    shape = SIZES[size]
    proc = processor(shape["vocab"])
    tok = proc.tokenizer
    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIAL}
    config = Qwen2_5_VLConfig(
        vision_config=shape["vision"],
        text_config=dict(vocab_size=shape["vocab"], max_position_embeddings=32768, bos_token_id=ids["<|endoftext|>"],
                         eos_token_id=ids["<|im_end|>"], **shape["text"]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration(config)
    if size == "tiny":  # louder picture tokens, so that a tiny model's words depend on the picture
        with torch.no_grad():
            model.model.visual.merger.mlp[-1].weight.mul_(30.0)
    model = model.to(dtype=dtype or torch.float32).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = tok.pad_token_id
    return proc, model


def save_tiny_vlm(folder: str | Path) -> Path:
    """A tiny random Qwen2.5-VL saved as a model folder (``[captions] model = "<folder>"``)."""
    folder = Path(folder)
    proc, model = qwen25_vl("tiny")
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder
