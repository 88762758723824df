"""Image preparation for image embeddings: validate by content, downscale, encode as data URLs; sample images."""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_SIDE = 512
THUMBNAIL_SIDE = 96
# Formats the page accepts, keyed by Pillow's name for what it found in the bytes (never the file name).
ACCEPTED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}
# Decoding more pixels than this is refused before Pillow allocates them (a small file can hold a huge image).
MAX_PIXELS = 64_000_000


class ImageRejectedError(ValueError):
    """A file that cannot be sent as an image; the message names the file and says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    """How big an upload may be and how far it is downscaled before sending."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_side: int = DEFAULT_MAX_SIDE

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.max_side < 8:
            raise ValueError("max_side must be at least 8 pixels")


MAX_MB_ENV = "PLAYGROUND_IMAGE_MAX_MB"
MAX_SIDE_ENV = "PLAYGROUND_IMAGE_MAX_SIDE"


def limits_from_env(environ: Mapping[str, str]) -> ImageLimits:
    """Limits from `PLAYGROUND_IMAGE_MAX_MB` and `PLAYGROUND_IMAGE_MAX_SIDE`, the defaults when unset.

    Raises ValueError naming the variable when a value is not a positive number.
    """
    max_bytes, max_side = DEFAULT_MAX_BYTES, DEFAULT_MAX_SIDE
    raw_mb, raw_side = environ.get(MAX_MB_ENV, "").strip(), environ.get(MAX_SIDE_ENV, "").strip()
    try:
        if raw_mb:
            max_bytes = int(float(raw_mb) * 1024 * 1024)
    except ValueError:
        raise ValueError(f"{MAX_MB_ENV} must be a number of megabytes, got {raw_mb!r}") from None
    try:
        if raw_side:
            max_side = int(raw_side)
    except ValueError:
        raise ValueError(f"{MAX_SIDE_ENV} must be a whole number of pixels, got {raw_side!r}") from None
    try:
        return ImageLimits(max_bytes=max_bytes, max_side=max_side)
    except ValueError as exc:
        raise ValueError(f"{MAX_MB_ENV}/{MAX_SIDE_ENV}: {exc}") from None


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send: re-encoded bytes plus what the page shows about it."""

    name: str
    data: bytes
    mime: str
    width: int
    height: int
    source_format: str
    source_bytes: int
    source_size: tuple[int, int]
    thumbnail: bytes = field(repr=False, default=b"")

    @property
    def data_url(self) -> str:
        """The image as a `data:` URL, the form `/images/embeddings` takes."""
        return to_data_url(self.data, self.mime)

    @property
    def thumbnail_url(self) -> str:
        """A small PNG of the image as a `data:` URL, for grids, axes and hover panels."""
        return to_data_url(self.thumbnail, "image/png")

    @property
    def downscaled(self) -> bool:
        """Whether the image sent is smaller than the one uploaded."""
        return (self.width, self.height) != self.source_size


def to_data_url(data: bytes, mime: str) -> str:
    """Encode bytes as a base64 `data:` URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def prepare_image(name: str, data: bytes, limits: ImageLimits | None = None) -> PreparedImage:
    """Check that `data` is a PNG, JPEG, WebP or GIF by its content, take a GIF's first frame and downscale.

    Raises ImageRejectedError naming the file when it is too large, not an image, of another format or corrupt.
    """
    limits = limits or ImageLimits()
    if not data:
        raise ImageRejectedError(name, "the file is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejectedError(
            name, f"the file is {_megabytes(len(data))}, larger than the limit of {_megabytes(limits.max_bytes)}"
        )
    image = _open_checked(name, data)
    source_format = ACCEPTED_FORMATS[image.format or ""]
    source_size = image.size
    try:
        # Loading the first frame is where truncated or corrupt data shows up.
        image.seek(0)
        image.load()
        frame = _normalise_mode(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejectedError(name, f"the {source_format} data is corrupt or truncated ({exc})") from exc
    frame = _downscale(frame, limits.max_side)
    payload, mime = _encode(frame, source_format)
    return PreparedImage(
        name=name,
        data=payload,
        mime=mime,
        width=frame.width,
        height=frame.height,
        source_format=source_format,
        source_bytes=len(data),
        source_size=source_size,
        thumbnail=_thumbnail(frame),
    )


def prepare_images(
    files: list[tuple[str, bytes]], limits: ImageLimits | None = None
) -> tuple[list[PreparedImage], list[ImageRejectedError]]:
    """Prepare every file; the good ones come back in order and each bad one becomes an error naming it."""
    prepared: list[PreparedImage] = []
    rejected: list[ImageRejectedError] = []
    for name, data in files:
        try:
            prepared.append(prepare_image(name, data, limits))
        except ImageRejectedError as err:
            rejected.append(err)
    return prepared, rejected


def _open_checked(name: str, data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own pixel limit; our limit is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageRejectedError(name, "the file is not an image (PNG, JPEG, WebP or GIF expected)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageRejectedError(name, "the image has too many pixels to decode safely") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejectedError(name, f"the file could not be read as an image ({exc})") from exc
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejectedError(
            name, f"the file is a {image.format or 'unknown'} image; PNG, JPEG, WebP or GIF expected"
        )
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejectedError(name, "the image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageRejectedError(name, f"the image is {width}x{height} pixels, more than can be decoded safely")
    return image


def _normalise_mode(image: Image.Image) -> Image.Image:
    # Palette, CMYK, 16-bit and similar modes become RGB or RGBA so every encoder and every model reads them alike.
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def _downscale(image: Image.Image, max_side: int) -> Image.Image:
    longest = max(image.size)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _encode(image: Image.Image, source_format: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    # Photographs stay JPEG (small); everything else becomes lossless PNG, which every endpoint reads.
    if source_format == "JPEG" and image.mode == "RGB":
        image.save(buffer, format="JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg"
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue(), "image/png"


def _thumbnail(image: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG")
    return buffer.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# --- sample images -------------------------------------------------------------------------------------------------

SAMPLE_SIDE = 160


@dataclass(frozen=True)
class SampleImage:
    """A generated image of a known family, so a good embedding puts members of one family together."""

    name: str
    family: str
    caption: str
    data: bytes


def sample_images(per_family: int = 3) -> list[SampleImage]:
    """Generate small PNGs in four visually distinct families (deterministic: same bytes every call)."""
    if per_family < 1:
        raise ValueError("per_family must be at least 1")
    rng = np.random.default_rng(7)
    samples: list[SampleImage] = []
    for family, caption, draw in _FAMILIES:
        for index in range(per_family):
            image = draw(index, rng)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            samples.append(SampleImage(f"{family}-{index + 1}.png", family, caption, buffer.getvalue()))
    return samples


def _red_circles(index: int, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (SAMPLE_SIDE, SAMPLE_SIDE), (250, 246, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(2 + index):
        radius = int(rng.integers(18, 40))
        cx, cy = (int(v) for v in rng.integers(radius, SAMPLE_SIDE - radius, size=2))
        shade = int(rng.integers(180, 235))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(shade, 30, 40))
    return image


def _blue_stripes(index: int, rng: np.random.Generator) -> Image.Image:
    period = 10 + 4 * index + int(rng.integers(0, 4))
    rows = np.arange(SAMPLE_SIDE)[:, None]
    band = ((rows // (period // 2)) % 2).astype(np.uint8)
    pixels = np.empty((SAMPLE_SIDE, SAMPLE_SIDE, 3), dtype=np.uint8)
    pixels[..., 0] = 20 + 20 * band
    pixels[..., 1] = 60 + 60 * band
    pixels[..., 2] = 140 + 100 * band
    return Image.fromarray(pixels, "RGB")


def _green_gradients(index: int, rng: np.random.Generator) -> Image.Image:
    angle = math.radians(30 * index + float(rng.uniform(0, 20)))
    ys, xs = np.mgrid[0:SAMPLE_SIDE, 0:SAMPLE_SIDE] / (SAMPLE_SIDE - 1)
    ramp = np.clip(xs * math.cos(angle) + ys * math.sin(angle), 0, 1)
    pixels = np.stack([30 + 60 * ramp, 90 + 150 * ramp, 40 + 50 * ramp], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _yellow_checks(index: int, rng: np.random.Generator) -> Image.Image:
    cell = 12 + 6 * index + int(rng.integers(0, 3))
    ys, xs = np.mgrid[0:SAMPLE_SIDE, 0:SAMPLE_SIDE]
    check = ((xs // cell + ys // cell) % 2).astype(np.uint8)
    pixels = np.stack([230 - 40 * check, 200 - 60 * check, 30 + 10 * check], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


_FAMILIES = [
    ("red-circles", "red circles on a light background", _red_circles),
    ("blue-stripes", "horizontal blue stripes", _blue_stripes),
    ("green-gradient", "a smooth green gradient", _green_gradients),
    ("yellow-checks", "a yellow checkerboard", _yellow_checks),
]
