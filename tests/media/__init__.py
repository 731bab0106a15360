"""Test media, made here with the exact commands kept: clips from FFmpeg's lavfi sources
(``RECIPES``), slideshows of real photos, and the annotated evaluation sets built from real
footage, pictures and voices (``shot_set``, ``speaker_set``, ``search_set``, ``face_set``,
``object_set``, ``sound_set``). The ``ffmpeg`` binary is imageio-ffmpeg's static build; no system
FFmpeg is needed.

One module a data set, each saying where its material comes from:

- :mod:`.common`: the ``ffmpeg`` binary, where the real material is read (opencv-doc, sample_videos/),
  and the 16 kHz audio helpers the sets share;
- :mod:`.clips`: the basic named clips (``RECIPES``, ``make``, ``command``);
- :mod:`.search`: ``slideshow`` and the search set;
- :mod:`.shots`: the shot set and its editor (``edit``);
- :mod:`.speakers`: the speaker set (real and espeak-ng dialogues);
- :mod:`.images`: the face and object sets;
- :mod:`.sounds`: the sound set (FluidSynth music, tones, noise, speech).

``import media`` (with tests/ on ``sys.path``, as conftest.py puts it) gives all the names below;
``python tests/media SET FOLDER`` builds one set (see ``__main__.py``).
"""

from .clips import RECIPES, command, make
from .common import FFMPEG, FILM, JFK, NASA, PHOTOS, PORTRAITS, SAMPLES, STREET
from .images import FACE_SET, OBJECT_SET, _skimage_photo, face_set, object_set
from .search import OUTSIDE, SEARCH_SET, outside_search_set, search_set, slideshow
from .shots import EDIT_FPS, EDIT_SIZE, edit, shot_set
from .sounds import CHORDS, SOUNDFONT, _siren, sound_set
from .speakers import ESPEAK_DIALOGUE, ESPEAK_THREE, speaker_set

__all__ = [
    "CHORDS", "EDIT_FPS", "EDIT_SIZE", "ESPEAK_DIALOGUE", "ESPEAK_THREE", "FACE_SET", "FFMPEG", "FILM", "JFK", "NASA",
    "OBJECT_SET", "PHOTOS", "PORTRAITS", "RECIPES", "SAMPLES", "SEARCH_SET", "SOUNDFONT", "STREET", "_siren", "_skimage_photo",
    "OUTSIDE", "outside_search_set", "command", "edit", "face_set", "make", "object_set", "search_set", "shot_set",
    "slideshow", "sound_set", "speaker_set",
]
