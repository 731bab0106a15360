"""``python tests/media SET FOLDER`` (or ``python -m media SET FOLDER`` from tests/): build one
evaluation set in FOLDER and print its files, the reference last."""

import sys
from pathlib import Path

if not __package__:  # run as ``python tests/media``: import the package from tests/, not its modules
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from media import face_set, object_set, outside_search_set, search_set, shot_set, sound_set, speaker_set  # noqa: E402

builders = {"shots": shot_set, "speakers": speaker_set, "faces": face_set, "objects": object_set, "sounds": sound_set,
            "search": search_set, "search-dev": lambda f: outside_search_set(f, "dev"),
            "search-test": lambda f: outside_search_set(f, "test")}
if len(sys.argv) == 3 and sys.argv[1] in builders:
    videos, reference = builders[sys.argv[1]](Path(sys.argv[2]))
    print("\n".join(map(str, [*videos, reference])))
else:
    sys.exit(f"usage: python tests/media {'|'.join(builders)} FOLDER")
