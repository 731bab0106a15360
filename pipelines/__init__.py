"""Pipeline definitions (TOML), shipped inside the package as ``avpipe.pipelines``.

Each ``NAME.toml`` lists the stages in order and the options of each stage; ``avpipe run
--pipeline NAME`` selects one, ``--pipeline path/to/file.toml`` a file of your own. Option names
and meanings are those of the dataclasses in ``avpipe/options.py``.
"""
