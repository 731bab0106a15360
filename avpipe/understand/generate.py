"""Text generation with any transformers model (causal LM or seq2seq), from a folder or the
local Hugging Face cache: the abstractive summary and generated answers use it when a pipeline
names a model. A vision-language model works too (its language side, text in, text out), so a GPU
pipeline can summarise with the VLM that captions its shots and hold one model, not two. Nothing
is downloaded: without the weights on disk this fails with a clear error."""

from __future__ import annotations

import os

from ..cache import once


@once
def load_generator(model: str, device: str = "cpu"):
    """(tokenizer, model, is_seq2seq) for ``model``, loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from ..errors import PipelineConfigError

    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(model, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        net = cls.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PipelineConfigError(f"generative model {model!r} is not available offline: {exc}") from exc
    return tokenizer, net.eval().to(device), config.is_encoder_decoder


@once
def is_vlm(model: str) -> bool:
    """Whether ``model``'s config is one that transformers loads as an image-text-to-text model."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    from ..models import local_folder

    try:
        config = AutoConfig.from_pretrained(local_folder(model), local_files_only=True)
    except (OSError, ValueError):
        return False
    return config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def generate(model: str | None, prompt: str, max_new_tokens: int = 160, device: str = "cpu") -> str:
    """Greedy continuation of ``prompt`` (the new text only). A chat model gets the prompt as one
    user turn through its chat template."""
    import torch

    from ..errors import PipelineConfigError

    if not model:
        raise PipelineConfigError("a generative backend needs `model` (a folder or a cached hub id)")
    if is_vlm(model):
        from ..vision.vlm import load_vlm

        message = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
        return load_vlm(model, device).generate([message], [[]], max_new_tokens)[0]
    tokenizer, net, seq2seq = load_generator(model, device)
    if not seq2seq and getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)
    else:
        ids = tokenizer(prompt, return_tensors="pt", truncation=True,
                        max_length=min(getattr(tokenizer, "model_max_length", 2048) or 2048, 4096))
    ids = {k: v.to(device) for k, v in ids.items()}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        out = net.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    new = out[0] if seq2seq else out[0, ids["input_ids"].shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=True).strip()
