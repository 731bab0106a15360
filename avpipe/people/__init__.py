"""People across a results folder: faces and voices matched into persons that keep their ids and
names (:mod:`.index`), edited by hand (:mod:`.edit`), found by face or name (:mod:`.find`) and
measured (:mod:`.evaluate`)."""

from .index import PEOPLE_DIR, load, update

__all__ = ["PEOPLE_DIR", "load", "update"]
