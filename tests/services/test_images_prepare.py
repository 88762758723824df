"""Image preparation: content sniffing, limits, downscaling, GIF frames, data URLs and sample images."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from services.images import (
    ImageLimits,
    ImageRejectedError,
    limits_from_env,
    prepare_image,
    prepare_images,
    sample_images,
    to_data_url,
)


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _solid(size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (200, 10, 10)) -> Image.Image:
    return Image.new("RGB", size, colour)


@pytest.mark.parametrize(("fmt", "expected"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WebP"), ("GIF", "GIF")])
def test_each_accepted_format_is_recognised_by_content(fmt: str, expected: str) -> None:
    prepared = prepare_image("photo.bin", _encode(_solid(), fmt))
    assert prepared.source_format == expected
    assert (prepared.width, prepared.height) == (40, 30)
    decoded = Image.open(io.BytesIO(prepared.data))
    assert decoded.size == (40, 30)


def test_extension_does_not_make_a_text_file_an_image() -> None:
    with pytest.raises(ImageRejectedError) as info:
        prepare_image("notes.png", b"just some text, not pixels\n" * 10)
    assert info.value.name == "notes.png"
    assert "not an image" in str(info.value)
    assert str(info.value).startswith("notes.png:")


def test_truncated_png_is_reported_as_corrupt() -> None:
    data = _encode(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)), "PNG")
    with pytest.raises(ImageRejectedError) as info:
        prepare_image("half.png", data[: len(data) // 2])
    assert info.value.name == "half.png"
    assert "corrupt" in info.value.reason or "could not be read" in info.value.reason


def test_other_image_formats_are_refused_with_their_name() -> None:
    with pytest.raises(ImageRejectedError) as info:
        prepare_image("scan.bmp", _encode(_solid(), "BMP"))
    assert "BMP" in info.value.reason


def test_file_over_the_size_limit_is_refused_before_decoding() -> None:
    data = _encode(_solid(), "PNG")
    with pytest.raises(ImageRejectedError) as info:
        prepare_image("big.png", data, ImageLimits(max_bytes=len(data) - 1))
    assert "larger than the limit" in info.value.reason
    assert prepare_image("big.png", data, ImageLimits(max_bytes=len(data))).source_bytes == len(data)


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImageRejectedError, match="empty"):
        prepare_image("empty.png", b"")


def test_large_image_is_downscaled_to_the_longest_side_keeping_aspect() -> None:
    prepared = prepare_image("wide.png", _encode(_solid((1000, 250)), "PNG"), ImageLimits(max_side=200))
    assert (prepared.width, prepared.height) == (200, 50)
    assert prepared.source_size == (1000, 250)
    assert prepared.downscaled
    assert Image.open(io.BytesIO(prepared.data)).size == (200, 50)


def test_small_image_is_not_upscaled() -> None:
    prepared = prepare_image("small.png", _encode(_solid((20, 10)), "PNG"), ImageLimits(max_side=200))
    assert (prepared.width, prepared.height) == (20, 10)
    assert not prepared.downscaled


def test_gif_sends_its_first_frame_only() -> None:
    frames = [_solid(colour=(255, 0, 0)), _solid(colour=(0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    prepared = prepare_image("anim.gif", data)
    pixel = Image.open(io.BytesIO(prepared.data)).convert("RGB").getpixel((5, 5))
    assert pixel[0] > 200 and pixel[2] < 50


def test_jpeg_stays_jpeg_and_png_with_alpha_keeps_alpha() -> None:
    assert prepare_image("a.jpg", _encode(_solid(), "JPEG")).mime == "image/jpeg"
    rgba = Image.new("RGBA", (10, 10), (0, 255, 0, 128))
    prepared = prepare_image("a.png", _encode(rgba, "PNG"))
    assert prepared.mime == "image/png"
    assert Image.open(io.BytesIO(prepared.data)).mode == "RGBA"


def test_data_url_round_trips_the_bytes() -> None:
    prepared = prepare_image("a.webp", _encode(_solid(), "WEBP"))
    header, payload = prepared.data_url.split(",", 1)
    assert header == f"data:{prepared.mime};base64"
    assert base64.b64decode(payload) == prepared.data
    assert to_data_url(b"\x00\x01", "image/png") == "data:image/png;base64,AAE="


def test_thumbnail_is_a_small_png() -> None:
    prepared = prepare_image("big.png", _encode(_solid((900, 300)), "PNG"))
    thumb = Image.open(io.BytesIO(prepared.thumbnail))
    assert thumb.format == "PNG"
    assert max(thumb.size) <= 96
    assert prepared.thumbnail_url.startswith("data:image/png;base64,")


def test_bad_files_are_reported_and_the_good_ones_kept_in_order() -> None:
    files = [
        ("one.png", _encode(_solid(), "PNG")),
        ("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"),
        ("two.gif", _encode(_solid(), "GIF")),
        ("huge.png", b"\x89PNG" + b"0" * 5000),
    ]
    prepared, rejected = prepare_images(files, ImageLimits(max_bytes=4000))
    assert [p.name for p in prepared] == ["one.png", "two.gif"]
    assert [r.name for r in rejected] == ["broken.jpg", "huge.png"]
    assert "larger than the limit" in rejected[1].reason


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        ImageLimits(max_bytes=0)
    with pytest.raises(ValueError):
        ImageLimits(max_side=2)


def test_sample_images_are_deterministic_valid_pngs_in_families() -> None:
    first, second = sample_images(), sample_images()
    assert [s.data for s in first] == [s.data for s in second]
    families = {s.family for s in first}
    assert len(families) == 4
    assert len(first) == 12
    assert len({s.name for s in first}) == 12
    for sample in first:
        assert prepare_image(sample.name, sample.data).source_format == "PNG"


def test_sample_families_differ_more_between_than_within_by_mean_colour() -> None:
    samples = sample_images()
    means = {
        s.name: np.asarray(Image.open(io.BytesIO(s.data)).convert("RGB"), dtype=float).mean(axis=(0, 1))
        for s in samples
    }
    by_family: dict[str, list[np.ndarray]] = {}
    for s in samples:
        by_family.setdefault(s.family, []).append(means[s.name])
    centres = {f: np.mean(v, axis=0) for f, v in by_family.items()}
    within = max(np.linalg.norm(m - centres[f]) for f, v in by_family.items() for m in v)
    between = min(np.linalg.norm(centres[a] - centres[b]) for a in centres for b in centres if a < b)
    assert within < between


def test_limits_come_from_the_environment_with_defaults() -> None:
    assert limits_from_env({}) == ImageLimits()
    limits = limits_from_env({"PLAYGROUND_IMAGE_MAX_MB": "1.5", "PLAYGROUND_IMAGE_MAX_SIDE": "256"})
    assert limits == ImageLimits(max_bytes=int(1.5 * 1024 * 1024), max_side=256)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PLAYGROUND_IMAGE_MAX_MB": "lots"}, "PLAYGROUND_IMAGE_MAX_MB"),
        ({"PLAYGROUND_IMAGE_MAX_SIDE": "12.5"}, "PLAYGROUND_IMAGE_MAX_SIDE"),
        ({"PLAYGROUND_IMAGE_MAX_MB": "-1"}, "PLAYGROUND_IMAGE_MAX_MB"),
    ],
)
def test_bad_limit_variables_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        limits_from_env(environ)
