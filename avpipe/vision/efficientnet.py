"""EfficientNet-Lite0 (bundled ImageNet weights in timm's network) bridged into the MiniLM text
space by ConSE (Norouzi et al. 2014, "Zero-Shot Learning by Convex Combination of Semantic
Embeddings").

The bridge: a frame's embedding is the probability-weighted mix of the text embeddings of its
``conse_top`` most likely ImageNet class names, normalised. So a frame of an orange lands near
the words "orange", "lemon", "citrus fruit", and the query "an orange" finds it.

What it can do: find frames by what ImageNet's 1,000 classes can name (objects, animals, many
scenes), in the same space as transcript sentences. What it cannot, unlike CLIP: see anything
outside those classes (people are mostly "suit", "jersey" or nothing; no actions, no colours, no
counts, no text), or tell two frames apart that the classifier calls the same thing. Use the
``clip`` backend where CLIP or SigLIP weights exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..models import REGISTRY, derived, home, resolve
from .base import unit
from .hierarchy import class_id
from .text import load_text

if TYPE_CHECKING:
    import numpy as np

    from ..options import VisionOptions

WEIGHTS = "efficientnet-lite0"
#: timm's TF-ported variant: "same" padding and BN epsilon as the TF original the weights come from.
TIMM_NAME = "tf_efficientnet_lite0"
MEAN = STD = (0.5, 0.5, 0.5)  # the Lite models take inputs scaled to [-1, 1]


def load_network(device: str = "cpu"):
    """timm's EfficientNet-Lite0 with the bundled state dict (lukemelas-style names) mapped in.

    The two layouts hold the same 296 tensors in the same order (stem, 16 blocks of expand /
    depthwise / project convolutions with their batch norms, head, classifier); they are paired in
    order and every pair's shape is checked, so a different file fails loudly, not quietly.
    """
    import timm
    import torch

    from ..errors import PipelineConfigError

    weights = resolve(WEIGHTS) / REGISTRY[WEIGHTS].bundled.parts[0][1].split("/")[-1]
    source = torch.load(weights, map_location="cpu", weights_only=True)
    net = timm.create_model(TIMM_NAME, pretrained=False)
    target = net.state_dict()
    if len(source) != len(target):
        raise PipelineConfigError(f"{weights}: {len(source)} tensors, timm's {TIMM_NAME} has {len(target)}")
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise PipelineConfigError(
                f"{weights}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(expected.shape)}")
        mapped[dst_key] = tensor
    net.load_state_dict(mapped)
    # channels-last: the layout oneDNN's depthwise convolutions want; 1.6x faster on CPU here
    return net.eval().to(device, memory_format=torch.channels_last)


def class_names() -> list[list[str]]:
    """ImageNet-1k class names, each as its list of synonyms ("orange"; "monarch", "monarch butterfly", ...)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i).split(", ") for i in range(1000)]


def preprocess(images: list["np.ndarray"], size: int = 224) -> "np.ndarray":
    """Shorter side to size / 0.875, centre crop ``size``, scale to [-1, 1], NCHW float32."""
    import cv2
    import numpy as np

    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    resize_to = round(size / 0.875)
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        scale = resize_to / min(h, w)
        img = cv2.resize(img, (max(size, round(w * scale)), max(size, round(h * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        h, w = img.shape[:2]
        y, x = (h - size) // 2, (w - size) // 2
        crop = img[y : y + size, x : x + size].astype(np.float32) / 255.0
        out[i] = ((crop - MEAN[0]) / STD[0]).transpose(2, 0, 1)
    return out


class EfficientNetConSE:
    name = "efficientnet-lite0"

    def __init__(self, options: "VisionOptions", device: str = "cpu") -> None:
        import numpy as np

        self.options, self.device = options, device
        # The space's name, by which search loads this encoder again: the weights, and the text
        # side after a "+" when it is not the bundled MiniLM (avpipe.search.index.space_options).
        self.model_name = WEIGHTS if options.text_model == "minilm" else f"{WEIGHTS}+{options.text_model}"
        self.net = load_network(device)
        self.text = load_text(options.text_model, device)
        self.names = class_names()
        def build(path: Path) -> None:
            # Up to three synonyms: "monarch, monarch butterfly, milkweed butterfly".
            np.save(path, self.text.encode([", ".join(n[:3]) for n in self.names]))

        # The class names' text embeddings, computed once and kept, sha256-checked, in the cache.
        cache = derived(home() / "models" / f"conse-{WEIGHTS}-{options.text_model}.npy", build)
        self.class_vectors = np.load(cache)

    def probabilities(self, images: list["np.ndarray"]) -> tuple["np.ndarray", "np.ndarray"]:
        """ImageNet class probabilities [N, 1000] and the pooled 1280-d features under them."""
        import numpy as np
        import torch

        probs, feats = [], []
        for lo in range(0, len(images), self.options.batch_size):
            batch = torch.from_numpy(preprocess(images[lo : lo + self.options.batch_size])).to(
                self.device, memory_format=torch.channels_last)
            with torch.inference_mode():
                pooled = self.net.forward_head(self.net.forward_features(batch), pre_logits=True)
                probs.append(self.net.get_classifier()(pooled).softmax(-1).float().cpu().numpy())
                feats.append(pooled.float().cpu().numpy())
        if not probs:
            return np.zeros((0, 1000), np.float32), np.zeros((0, 1280), np.float32)
        return np.concatenate(probs), np.concatenate(feats)

    def encode_images(self, images: list["np.ndarray"]) -> tuple["np.ndarray", list[list[tuple[str, float, str]]], "np.ndarray"]:
        """(unit vectors in the text space, labels as (name, score, WordNet synset id) best
        first, the classifier's pooled features) of RGB images."""
        import numpy as np

        probs, features = self.probabilities(images)
        top = np.argsort(-probs, axis=1)
        o = self.options
        labels = [[(self.names[c][0], round(float(p[c]), 4), class_id(int(c))) for c in row[: o.top_k]
                   if p[c] >= o.min_score] for p, row in zip(probs, top)]
        vectors = np.zeros((len(images), self.class_vectors.shape[1]), np.float32)
        for i, (p, row) in enumerate(zip(probs, top)):
            chosen = row[: o.conse_top]
            vectors[i] = p[chosen] @ self.class_vectors[chosen]
        return unit(vectors), labels, features

    def encode_texts(self, texts: list[str]) -> "np.ndarray":
        return self.text.encode(texts)
