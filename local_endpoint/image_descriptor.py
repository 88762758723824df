"""An honest classical image descriptor (no learned weights): CIELAB colour histogram, edge-orientation histograms
and a coarse spatial colour layout, each block normalised, then the whole vector L2-normalised."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

MODEL_NAME = "classical-colour-texture-descriptor"
PROVIDER = "local_endpoint (Pillow + numpy, no learned weights)"
SIDE = 96  # pixels per side after resizing: enough for colour and texture statistics, cheap to compute
L_BINS, AB_BINS = 4, 8
ORIENT_BINS = 8
EDGE_GRID = 2
LAYOUT_GRID = 4
DIMENSIONS = L_BINS * AB_BINS * AB_BINS + ORIENT_BINS * (1 + EDGE_GRID * EDGE_GRID) + 3 * LAYOUT_GRID * LAYOUT_GRID
MAX_PIXELS = 64_000_000  # refuse decompression bombs before decoding

# Relative weight of each block in the final vector.
W_COLOUR, W_EDGES, W_LAYOUT = 1.0, 0.6, 0.7


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can read; `index` is the input's position when known."""

    index: int | None = None


def _srgb_to_lab(rgb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """CIELAB (D65) from sRGB in [0, 1]; L in [0, 100], a and b roughly in [-110, 110]."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
        dtype=np.float32,
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)
    return lab.astype(np.float32)


def decode_image(data: bytes) -> Image.Image:
    """An RGB image of SIDE x SIDE pixels from encoded bytes; ImageDecodeError when they are not a readable image."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageDecodeError(f"the image has {img.width}x{img.height} pixels, more than {MAX_PIXELS}")
            img.draft("RGB", (SIDE * 2, SIDE * 2))
            rgb = img.convert("RGBA")
            # Transparent areas count as white, as most viewers show them.
            background = Image.new("RGBA", rgb.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgb).convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageDecodeError(f"not a readable image ({exc})") from exc


def _unit(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 else v


def _orientation_histogram(
    magnitude: npt.NDArray[np.float32], angle: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    bins = np.minimum((angle / np.pi * ORIENT_BINS).astype(np.int64), ORIENT_BINS - 1)
    return np.bincount(bins.ravel(), weights=magnitude.ravel(), minlength=ORIENT_BINS).astype(np.float32)


def describe(image: Image.Image) -> npt.NDArray[np.float32]:
    """The descriptor of an RGB SIDE x SIDE image: a unit vector of DIMENSIONS floats."""
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    lab = _srgb_to_lab(rgb)
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]

    # Joint Lab histogram; square roots (Hellinger) so dominant colours do not drown the rest.
    li = np.clip((lightness / 100.0 * L_BINS).astype(np.int64), 0, L_BINS - 1)
    ai = np.clip(((a + 80.0) / 160.0 * AB_BINS).astype(np.int64), 0, AB_BINS - 1)
    bi = np.clip(((b + 80.0) / 160.0 * AB_BINS).astype(np.int64), 0, AB_BINS - 1)
    joint = (li * AB_BINS + ai) * AB_BINS + bi
    colour = np.bincount(joint.ravel(), minlength=L_BINS * AB_BINS * AB_BINS).astype(np.float32)
    colour = _unit(np.sqrt(colour / colour.sum()))

    # Edge orientations (unsigned) weighted by gradient magnitude, over the whole image and a 2x2 grid.
    gy, gx = np.gradient(lightness)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    blocks = [_orientation_histogram(magnitude, angle)]
    cell = SIDE // EDGE_GRID
    for row in range(EDGE_GRID):
        for col in range(EDGE_GRID):
            window = (slice(row * cell, (row + 1) * cell), slice(col * cell, (col + 1) * cell))
            blocks.append(_orientation_histogram(magnitude[window], angle[window]))
    edges = np.concatenate(blocks)
    total = float(edges.sum())
    edges = _unit(np.sqrt(edges / total)) if total > 1e-6 else edges

    # Coarse layout: mean Lab of each cell of a 4x4 grid, scaled to comparable ranges.
    cell = SIDE // LAYOUT_GRID
    means = lab.reshape(LAYOUT_GRID, cell, LAYOUT_GRID, cell, 3).mean(axis=(1, 3))
    layout = (means / np.array([100.0, 110.0, 110.0], dtype=np.float32)).ravel()
    layout = _unit(layout)

    vector = np.concatenate([W_COLOUR * colour, W_EDGES * edges, W_LAYOUT * layout]).astype(np.float32)
    return _unit(vector)


class ImageDescriptor:
    """The 'model' behind the image-descriptor deployment (stateless; a class so it loads like the others)."""

    dimensions = DIMENSIONS

    def embed(self, images: list[bytes]) -> npt.NDArray[np.float32]:
        """Unit vectors for encoded images; ImageDecodeError carries the index of the first unreadable one."""
        out = np.zeros((len(images), DIMENSIONS), dtype=np.float32)
        for i, data in enumerate(images):
            try:
                out[i] = describe(decode_image(data))
            except ImageDecodeError as exc:
                exc.index = i
                raise
        return out


def load_image_descriptor(_config: object = None) -> ImageDescriptor:
    """Nothing to load: the descriptor is pure computation."""
    return ImageDescriptor()
