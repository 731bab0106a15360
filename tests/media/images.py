"""The annotated image sets of `avpipe eval faces` (:data:`FACE_SET`: face boxes drawn by hand)
and `avpipe eval objects` (:data:`OBJECT_SET`: the COCO classes each picture shows, by eye).

Every picture is real and nobody here made it: frames of Debian's opencv-doc Megamind clip and
opencv-doc's sample photos (``apt-get install opencv-doc``), and scikit-image's bundled photos
(astronaut: NASA, public domain; chelsea, coffee: CC0 per scikit-image's data README). The
builders write each as PNG with its reference JSON Lines beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import FILM, PHOTOS, _write_jsonl

if TYPE_CHECKING:
    import numpy as np


def _film_frame(index: int) -> "np.ndarray":
    """Frame ``index`` (from 0) of the Megamind clip, BGR."""
    import av

    with av.open(str(FILM)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="bgr24")
    raise IndexError(index)


def _skimage_photo(name: str) -> "np.ndarray":
    """One of scikit-image's bundled photos (astronaut: NASA, public domain; chelsea, coffee:
    CC0 per scikit-image's data README), RGB."""
    from skimage import data

    return getattr(data, name)()


def _write_images(folder: Path, items: list[dict], key: str) -> tuple[list[Path], Path]:
    """Write a copy of ``items``: each one's image (from its ``_from``) and ``{key}.jsonl``, into ``folder``."""
    import copy

    from PIL import Image

    items = copy.deepcopy(items)
    folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        source = item.pop("_from")
        if isinstance(source, tuple):  # ("film", frame) or ("skimage", name)
            image = Image.fromarray(_film_frame(source[1])[:, :, ::-1].copy() if source[0] == "film"
                                    else _skimage_photo(source[1]))
        else:
            image = Image.open(PHOTOS / source).convert("RGB")
        image.save(folder / item["image"])
    return [folder / x["image"] for x in items], _write_jsonl(folder / f"{key}.jsonl", items)


#: Faces drawn by hand (x, y, w, h in pixels) on real pictures nobody here made: frames of the
#: Megamind clip (an animated film: stylised but not frontal-only faces, dim light, a face in the
#: background), scikit-image's astronaut, and opencv-doc's footballer and two basketball photos,
#: whose second man is in profile. The boxes were taken from the CNN detector's output where it
#: was right (checked by eye on every image) and drawn where it was wrong; matching is by centres
#: (avpipe/vision/evaluate.py), so box style favours no detector. Messi's stadium crowd (faces of
#: 10-20 px) is an ignore region. The face-free photos count false faces.
FACE_SET = [
    {"image": "film_022.png", "_from": ("film", 22), "faces": [[263, 197, 125, 143], [444, 184, 70, 81]]},
    {"image": "film_044.png", "_from": ("film", 44), "faces": [[228, 166, 134, 150], [465, 177, 64, 81]]},
    {"image": "film_066.png", "_from": ("film", 66), "faces": [[225, 208, 139, 154], [469, 164, 61, 76]]},
    {"image": "film_088.png", "_from": ("film", 88), "faces": [[256, 142, 127, 166], [474, 165, 63, 78]]},
    {"image": "film_110.png", "_from": ("film", 110), "faces": [[399, 118, 152, 203]]},
    {"image": "film_132.png", "_from": ("film", 132), "faces": [[419, 141, 146, 200]]},
    {"image": "film_154.png", "_from": ("film", 154), "faces": [[229, 137, 150, 182]]},
    {"image": "film_176.png", "_from": ("film", 176), "faces": [[217, 146, 149, 179]]},
    {"image": "film_198.png", "_from": ("film", 198), "faces": [[276, 149, 162, 189]]},
    {"image": "film_220.png", "_from": ("film", 220), "faces": [[263, 62, 262, 351]]},
    {"image": "film_242.png", "_from": ("film", 242), "faces": [[266, 69, 240, 306]]},
    {"image": "film_264.png", "_from": ("film", 264), "faces": [[310, 94, 226, 277]]},
    {"image": "astronaut.png", "_from": ("skimage", "astronaut"), "faces": [[178, 63, 89, 112]]},
    {"image": "messi5.png", "_from": "messi5.jpg", "faces": [[225, 93, 30, 39]], "ignore": [[0, 0, 548, 200]]},
    {"image": "basketball1.png", "_from": "basketball1.png", "faces": [[72, 92, 31, 41], [510, 55, 43, 67]]},
    {"image": "basketball2.png", "_from": "basketball2.png", "faces": [[70, 91, 32, 41], [517, 51, 45, 71]]},
    *({"image": name.rsplit(".", 1)[0] + ".png", "_from": name, "faces": []}
      for name in ("orange.jpg", "baboon.jpg", "fruits.jpg", "building.jpg", "home.jpg", "stuff.jpg", "leuvenA.jpg",
                   "licenseplate_motion.jpg", "aero1.jpg", "ela_original.jpg", "chicky_512.png", "box_in_scene.png",
                   "rubberwhale1.png", "graf1.png", "apple.jpg", "HappyFish.jpg", "starry_night.jpg",
                   "butterfly.jpg", "squirrel_cls.jpg", "smarties.png")),
    {"image": "chelsea.png", "_from": ("skimage", "chelsea"), "faces": []},
    {"image": "coffee.png", "_from": ("skimage", "coffee"), "faces": []},
]


def face_set(folder: Path) -> tuple[list[Path], Path]:
    """Write :data:`FACE_SET`'s images and ``faces.jsonl`` into ``folder``."""
    return _write_images(folder, FACE_SET, "faces")


#: COCO classes each real picture clearly shows (``objects``), and those it shows too small or
#: too ambiguously to require (``maybe``), annotated by eye; presence per image, not boxes.
OBJECT_SET = [
    {"image": "messi5.png", "_from": "messi5.jpg", "objects": ["person", "sports ball"]},
    {"image": "basketball1.png", "_from": "basketball1.png", "objects": ["person", "sports ball"], "maybe": ["chair"]},
    {"image": "basketball2.png", "_from": "basketball2.png", "objects": ["person", "sports ball"], "maybe": ["chair"]},
    {"image": "astronaut.png", "_from": ("skimage", "astronaut"), "objects": ["person"], "maybe": ["airplane"]},
    {"image": "chelsea.png", "_from": ("skimage", "chelsea"), "objects": ["cat"]},
    {"image": "coffee.png", "_from": ("skimage", "coffee"), "objects": ["cup", "spoon"], "maybe": ["bowl", "dining table"]},
    {"image": "chicky_512.png", "_from": "chicky_512.png", "objects": ["dog"], "maybe": ["couch", "bed"]},
    {"image": "home.png", "_from": "home.jpg", "objects": ["bird"]},
    {"image": "licenseplate_motion.png", "_from": "licenseplate_motion.jpg", "objects": ["car"]},
    {"image": "ela_original.png", "_from": "ela_original.jpg", "objects": ["book"]},
    {"image": "apple.png", "_from": "apple.jpg", "objects": ["apple"]},
    {"image": "orange.png", "_from": "orange.jpg", "objects": ["orange"]},
    {"image": "fruits.png", "_from": "fruits.jpg", "objects": ["orange"], "maybe": ["apple"]},
    {"image": "film_044.png", "_from": ("film", 44), "objects": ["person", "wine glass"],
     "maybe": ["dining table", "cup", "chair", "bottle"]},
    {"image": "film_110.png", "_from": ("film", 110), "objects": ["person"], "maybe": ["dining table", "wine glass", "cup"]},
    {"image": "building.png", "_from": "building.jpg", "objects": [], "maybe": ["car", "potted plant", "person"]},
    {"image": "box_in_scene.png", "_from": "box_in_scene.png", "objects": [], "maybe": ["book", "chair"]},
    *({"image": name.rsplit(".", 1)[0] + ".png", "_from": name, "objects": []}
      for name in ("baboon.jpg", "stuff.jpg", "leuvenA.jpg", "aero1.jpg", "rubberwhale1.png", "graf1.png",
                   "HappyFish.jpg", "starry_night.jpg", "butterfly.jpg", "squirrel_cls.jpg", "smarties.png")),
]


def object_set(folder: Path) -> tuple[list[Path], Path]:
    """Write :data:`OBJECT_SET`'s images and ``objects.jsonl`` into ``folder``."""
    return _write_images(folder, OBJECT_SET, "objects")
