"""Vision-language models through transformers: a caption per picture, and answers to questions
about pictures (``avpipe ask`` with a VLM).

Any model that transformers loads with ``AutoModelForImageTextToText`` and ``AutoProcessor``
works (Qwen2.5-VL, SmolVLM2, LLaVA-OneVision, InternVL, ...), from a folder or the local Hugging
Face cache; nothing is downloaded by a run and no ``trust_remote_code`` is allowed. Prompts go
through the model's own chat template and processor, so each architecture sees its own image
tokens. Decoding is greedy: the same pictures give the same captions. On CUDA the weights run in
bfloat16 (float16 where the card has no bfloat16); on the CPU in float32.

No VLM weights install offline, so the tests run this code on tiny random models built from the
real architectures' configs (:mod:`avpipe.vision.random_models`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cache import once
from ..options import CAPTION_PROMPT
from ..models import local_folder

if TYPE_CHECKING:
    import numpy as np


@dataclass
class VLM:
    """A loaded vision-language model: its processor, network, device and name."""

    name: str
    processor: object
    model: object
    device: str

    def generate(self, conversations: list[list[dict]], images: list[list["np.ndarray"]],
                 max_new_tokens: int) -> list[str]:
        """The model's greedy reply to each conversation (chat messages whose content lists
        ``{"type": "image"}`` and ``{"type": "text", "text": ...}`` parts), with its images (RGB
        uint8 arrays, one list per conversation, in the order their image parts appear)."""
        import torch
        from PIL import Image

        texts = [self.processor.apply_chat_template(c, add_generation_prompt=True) for c in conversations]
        pictures = [[Image.fromarray(i) for i in group] for group in images]
        flat = [p for group in pictures for p in group]
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        tokenizer.padding_side = "left"  # a batch's replies all start where its prompts end
        given = (pictures if _nested_images(self.processor) else flat) if flat else None
        inputs = self.processor(text=texts, images=given, return_tensors="pt", padding=True)
        accepted = inspect.signature(self.model.forward).parameters
        if "token_type_ids" in inputs and "token_type_ids" not in accepted:
            inputs.pop("token_type_ids")  # a BERT-style tokenizer's extra, which decoder-only models refuse
        dtype = next(self.model.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)) for k, v in inputs.items()}
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
        replies = self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return [" ".join(r.split()) for r in replies]


def _nested_images(processor) -> bool:
    """Whether the processor wants images grouped per prompt (Idefics3 / SmolVLM) or flat."""
    return type(processor).__name__.startswith(("Idefics", "SmolVLM"))


@once
def load_vlm(model: str, device: str = "cpu") -> VLM:
    """The VLM ``model`` (hub id from the local cache, or folder) on ``device``, loaded once."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.utils import logging as hf_logging

    from ..errors import PipelineConfigError

    hf_logging.disable_progress_bar()
    folder = local_folder(model)
    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    try:
        processor = AutoProcessor.from_pretrained(folder)
        net = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise PipelineConfigError(f"{model!r} is not a vision-language model transformers can load: {exc}") from exc
    return VLM(name=model, processor=processor, model=net.eval().to(device), device=device)


def caption(vlm: VLM, images: list["np.ndarray"], prompt: str = CAPTION_PROMPT, max_new_tokens: int = 48,
            batch_size: int = 8) -> list[str]:
    """One caption per image (RGB uint8), ``batch_size`` images per forward pass."""
    message = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    out: list[str] = []
    for lo in range(0, len(images), batch_size):
        batch = images[lo : lo + batch_size]
        out += vlm.generate([message] * len(batch), [[i] for i in batch], max_new_tokens)
    return out


def answer(vlm: VLM, question: str, notes: str, images: list["np.ndarray"], image_times: list[str],
           max_new_tokens: int = 96) -> str:
    """The model's answer to ``question`` from keyframes (each introduced by its time) and the
    timestamped ``notes`` around them (transcript, captions, events)."""
    content: list[dict] = [{"type": "text", "text": "Keyframes from a video, each after its time:"}]
    for when in image_times:
        content += [{"type": "text", "text": f"\n[{when}]"}, {"type": "image"}]
    content.append({"type": "text", "text": (
        f"\nTimestamped notes from the same video:\n{notes}\n\n"
        f"Question: {question}\nAnswer in one or two sentences using only these keyframes and notes, "
        "and cite the times you rely on in [mm:ss] form.")})
    return vlm.generate([[{"role": "user", "content": content}]], [images], max_new_tokens)[0]
