import json
from pathlib import Path

import jsonschema
import pytest

import avpipe
from avpipe.schema import SCHEMA_VERSION, IndexRecord, Result, VideoInfo, json_schema

SCHEMA_FILE = Path(avpipe.__file__).parent / "result.schema.json"


def test_committed_schema_matches_the_models():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        "avpipe/result.schema.json is stale: run `avpipe schema > avpipe/result.schema.json`"
    )


def test_minimal_result_validates_and_round_trips():
    r = Result(video=VideoInfo(path="a.mp4", video_id="a-1", has_audio=False, has_video=True))
    data = json.loads(r.model_dump_json())
    jsonschema.validate(data, json_schema())
    assert data["schema_version"] == SCHEMA_VERSION
    assert Result.model_validate(data) == r
    for key in ("video", "transcript", "shots", "keyframes", "events", "summary", "stages", "errors"):
        assert key in data


def test_schema_rejects_unknown_and_mistyped_fields():
    data = json.loads(Result(video=VideoInfo(path="a", video_id="a", has_audio=True, has_video=True)).model_dump_json())
    data["shots"] = [{"start": "soon", "end": 1.0}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
    data["shots"] = []
    data["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())


def test_index_record_status_is_closed():
    with pytest.raises(ValueError):
        IndexRecord(input="x", status="maybe")
