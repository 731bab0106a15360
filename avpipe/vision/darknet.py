"""A darknet network (YOLOv3-tiny's layers: convolutional, maxpool, upsample, route, yolo) built
in torch from its ``.cfg`` and ``.weights`` files.

Why not OpenCV's darknet reader, which avpipe used first: OpenCV 5 drops it; one torch module
serves every lane side by side, where OpenCV needs a network per lane; and it is a little faster
(two passes on a keyframe, two lanes on the 2-core machine: 0.070 s against 0.077 s). The
weights file is plain float32 arrays (no pickle). The outputs are what OpenCV gives, row for
row: per anchor and grid cell, the box centre and size as fractions of the input, the objectness
and the 80 class probabilities times it (``tests/test_vision.py`` compares the two).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

#: darknet's batch norm divides by ``sqrt(variance) + BN_EPSILON``.
BN_EPSILON = 1e-6
LEAKY_SLOPE = 0.1
#: OpenCV's yolo layer gives 0 for a class probability (times the objectness) not above this.
OPENCV_FLOOR = 0.2


def read_cfg(path: Path) -> list[dict[str, str]]:
    """The cfg's sections in order: ``{"type": "convolutional", "filters": "16", ...}``."""
    sections: list[dict[str, str]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            sections.append({"type": line.strip("[]").strip()})
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][key.strip()] = value.strip()
    return sections


def build(cfg: Path, weights: Path) -> "torch.nn.Module":
    """The network of ``cfg`` with ``weights`` loaded (batch norms folded into the convolutions),
    in eval mode; ``net(x)`` on an NCHW float batch gives one ``[N, rows, 85]`` array per yolo
    layer, as OpenCV's forward does."""
    import numpy as np
    import torch
    from torch import nn

    from ..errors import PipelineConfigError

    sections = read_cfg(cfg)
    if not sections or sections[0]["type"] not in ("net", "network"):
        raise PipelineConfigError(f"{cfg}: not a darknet config (no [net] section first)")
    data = np.fromfile(weights, dtype=np.uint8)
    major, minor, _ = np.frombuffer(data[:12].tobytes(), np.int32)
    offset = 12 + (8 if major * 10 + minor >= 2 and major < 1000 else 4)  # then the images seen in training
    values = np.frombuffer(data[offset:].tobytes(), np.float32)
    used = 0

    def take(n: int) -> "np.ndarray":
        nonlocal used
        if used + n > len(values):
            raise PipelineConfigError(f"{weights}: ends before {cfg}'s layers have their weights")
        out = values[used : used + n]
        used += n
        return out

    layers: list[tuple[str, dict, nn.Module | None]] = []
    channels = [int(sections[0].get("channels", 3))]  # each layer's output channels, the input's first
    for section in sections[1:]:
        kind = section["type"]
        before = channels[-1]
        if kind == "convolutional":
            filters, size = int(section["filters"]), int(section["size"])
            stride, pad = int(section.get("stride", 1)), int(section.get("pad", 0))
            conv = nn.Conv2d(before, filters, size, stride, size // 2 if pad else 0, bias=True)
            if int(section.get("batch_normalize", 0)):
                beta, gamma, mean, var = (take(filters) for _ in range(4))
                kernel = take(filters * before * size * size).reshape(filters, before, size, size)
                factor = gamma / (np.sqrt(var) + BN_EPSILON)
                conv.weight.data = torch.from_numpy((kernel * factor[:, None, None, None]).astype(np.float32))
                conv.bias.data = torch.from_numpy((beta - mean * factor).astype(np.float32))
            else:
                conv.bias.data = torch.from_numpy(take(filters).copy())
                conv.weight.data = torch.from_numpy(take(filters * before * size * size).reshape(
                    filters, before, size, size).copy())
            activation = section.get("activation", "linear")
            if activation not in ("leaky", "linear"):
                raise PipelineConfigError(f"{cfg}: activation {activation!r} is not supported")
            layers.append((kind, {"leaky": activation == "leaky"}, conv))
            channels.append(filters)
        elif kind == "maxpool":
            layers.append((kind, {"size": int(section["size"]), "stride": int(section["stride"])}, None))
            channels.append(before)
        elif kind == "upsample":
            layers.append((kind, {"stride": int(section["stride"])}, None))
            channels.append(before)
        elif kind == "route":
            picks = [int(v) for v in section["layers"].split(",")]
            here = len(layers)
            picks = [p if p >= 0 else here + p for p in picks]
            layers.append((kind, {"from": picks}, None))
            channels.append(sum(channels[p + 1] for p in picks))
        elif kind == "yolo":
            anchors = [float(v) for v in section["anchors"].split(",")]
            pairs = [(anchors[2 * i], anchors[2 * i + 1]) for i in range(len(anchors) // 2)]
            mask = [int(v) for v in section["mask"].split(",")]
            layers.append((kind, {"anchors": [pairs[m] for m in mask], "classes": int(section["classes"])}, None))
            channels.append(before)
        else:
            raise PipelineConfigError(f"{cfg}: layer type {kind!r} is not supported")
    if used != len(values):
        raise PipelineConfigError(f"{weights}: {len(values) - used} values left over after {cfg}'s layers")
    return _network_class()(layers).eval()


def _network_class():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Darknet(nn.Module):
        """The layers of :func:`build`, run in order; route layers read earlier outputs."""

        def __init__(self, layers: list[tuple[str, dict, "nn.Module | None"]]) -> None:
            super().__init__()
            self.kinds = [kind for kind, _, _ in layers]
            self.params = [params for _, params, _ in layers]
            self.convs = nn.ModuleDict({str(i): m for i, (_, _, m) in enumerate(layers) if m is not None})

        def forward(self, x: "torch.Tensor") -> list["torch.Tensor"]:
            height, width = x.shape[2], x.shape[3]
            outputs: list[torch.Tensor] = []
            found: list[torch.Tensor] = []
            for i, (kind, p) in enumerate(zip(self.kinds, self.params)):
                if kind == "convolutional":
                    x = self.convs[str(i)](x)
                    if p["leaky"]:
                        x = F.leaky_relu(x, LEAKY_SLOPE)
                elif kind == "maxpool":
                    if p["stride"] == 1:  # darknet keeps the size: the window runs past the edge
                        x = F.pad(x, (0, p["size"] - 1, 0, p["size"] - 1), mode="replicate")
                    x = F.max_pool2d(x, p["size"], p["stride"])
                elif kind == "upsample":
                    x = F.interpolate(x, scale_factor=p["stride"], mode="nearest")
                elif kind == "route":
                    x = torch.cat([outputs[j] for j in p["from"]], 1)
                elif kind == "yolo":
                    found.append(_decode(x, p["anchors"], p["classes"], width, height))
                outputs.append(x)
            return found

    return Darknet


def _decode(x: "torch.Tensor", anchors: list[tuple[float, float]], classes: int, width: int,
            height: int) -> "torch.Tensor":
    """A yolo layer's raw map [N, anchors * (5 + classes), gh, gw] as rows per cell and anchor:
    centre x, centre y, width, height (fractions of the input), objectness, and each class's
    probability times the objectness (OpenCV's rows)."""
    import torch

    n, _, gh, gw = x.shape
    x = x.reshape(n, len(anchors), 5 + classes, gh, gw).permute(0, 3, 4, 1, 2)  # N, gh, gw, anchors, 85
    cols = torch.arange(gw, dtype=x.dtype).reshape(1, 1, gw, 1)
    rows = torch.arange(gh, dtype=x.dtype).reshape(1, gh, 1, 1)
    size = torch.tensor(anchors, dtype=x.dtype)
    out = torch.empty_like(x)
    out[..., 0] = (torch.sigmoid(x[..., 0]) + cols) / gw
    out[..., 1] = (torch.sigmoid(x[..., 1]) + rows) / gh
    out[..., 2] = torch.exp(x[..., 2]) * size[:, 0] / width
    out[..., 3] = torch.exp(x[..., 3]) * size[:, 1] / height
    out[..., 4] = torch.sigmoid(x[..., 4])
    probs = torch.sigmoid(x[..., 5:]) * out[..., 4:5]  # as OpenCV gives them: times the objectness,
    out[..., 5:] = torch.where(probs > OPENCV_FLOOR, probs, torch.zeros_like(probs))  # and none at or under its floor
    return out.reshape(n, -1, 5 + classes)

