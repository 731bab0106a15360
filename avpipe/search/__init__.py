"""Cross-modal retrieval over processed videos: the moment index, search by text or image, and
questions answered with timestamped evidence.

    from avpipe.search import update_index, search, ask
    update_index("results/")                      # also done by `avpipe run`
    for moment in search("results/", "telescope in a clean room", k=5):
        print(moment.video_id, moment.start, moment.score)
    print(ask("results/nasa_13013-6473deb3", "Where is the telescope?").answer)
"""

from .ask import Answer, Evidence, ask
from .index import Collection, load_index, update_index
from .query import Moment, search

__all__ = ["Answer", "Collection", "Evidence", "Moment", "ask", "load_index", "search", "update_index"]
