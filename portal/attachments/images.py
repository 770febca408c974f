"""What an uploaded file is, decided from its bytes alone: images are decoded in full and
re-encoded (so EXIF, GPS and any other metadata are gone), PDFs are recognised by their header;
anything else is refused. Thumbnails are made here too (called from a Celery task).

No Flask and no database: bytes in, bytes out, or a ValidationFailed the view answers as 422.
"""
import io
import unicodedata
from dataclasses import dataclass
from typing import Optional

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.errors import ValidationFailed

pillow_heif.register_heif_opener()

# Pillow format → (content type, extension) as stored. HEIC is stored re-encoded as JPEG:
# browsers other than Safari cannot show HEIC at all.
STORED_AS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "HEIF": ("image/jpeg", "jpg"),
}
PDF = ("application/pdf", "pdf")
THUMBNAIL_SIZE = (320, 320)
_SAVE_OPTIONS = {"jpg": {"format": "JPEG", "quality": 90},
                 "png": {"format": "PNG"},
                 "webp": {"format": "WEBP", "quality": 90}}
# What each stored format can hold; anything else is converted first.
_MODES = {"jpg": ("L", "RGB", "CMYK"), "webp": ("RGB", "RGBA")}


@dataclass(frozen=True)
class CheckedFile:
    """An accepted file: the bytes to store and what they are."""

    data: bytes
    content_type: str
    extension: str
    width: Optional[int] = None
    height: Optional[int] = None


def refused(code: str, message: str) -> ValidationFailed:
    """The 422 for a file that is not accepted, naming the ``file`` field."""
    return ValidationFailed(message, code=code, details={"file": [message]})


def check(data: bytes) -> CheckedFile:
    """Decide what ``data`` is; return it ready to store, or raise a 422."""
    if not data:
        raise refused("empty_file", "The file is empty.")
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:
            raise refused("invalid_file", "The PDF is incomplete.")
        return CheckedFile(data, *PDF)
    try:
        with Image.open(io.BytesIO(data), formats=list(STORED_AS)) as image:
            if image.width * image.height > Image.MAX_IMAGE_PIXELS:
                raise _too_many_pixels()
            image.load()  # the whole image is decoded: a truncated or corrupt file fails here
            return _reencode(image)
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            RuntimeError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            message = "Only JPEG, PNG, WebP and HEIC images and PDF files are accepted."
        else:
            message = "The image could not be decoded (truncated or corrupt)."
        raise refused("invalid_file", message) from None


def _too_many_pixels() -> ValidationFailed:
    return refused("image_too_large",
                   f"The image has more than {Image.MAX_IMAGE_PIXELS} pixels.")


def _reencode(image) -> CheckedFile:
    content_type, extension = STORED_AS[image.format]
    icc_profile = image.info.get("icc_profile")
    # Turn the picture upright first: the orientation tag goes with the rest of the EXIF.
    clean = ImageOps.exif_transpose(image)
    if extension in _MODES and clean.mode not in _MODES[extension]:
        clean = clean.convert("RGBA" if extension == "webp" and "A" in clean.mode else "RGB")
    clean.info = {}  # nothing of the upload's metadata reaches the encoder
    options = dict(_SAVE_OPTIONS[extension])
    if icc_profile:
        options["icc_profile"] = icc_profile  # colours, not location: kept
    out = io.BytesIO()
    clean.save(out, **options)
    return CheckedFile(out.getvalue(), content_type, extension, clean.width, clean.height)


def thumbnail(data: bytes) -> bytes:
    """A JPEG at most THUMBNAIL_SIZE of a stored image."""
    with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as image:
        image.thumbnail(THUMBNAIL_SIZE)
        small = image.convert("RGB") if image.mode not in ("L", "RGB") else image
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
        return out.getvalue()


def safe_filename(name: Optional[str], extension: str) -> str:
    """The client's file name reduced to a safe base name with the extension of what it is."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    # No control, format (bidi overrides) or unassigned characters: they end up in headers.
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base
    return f"{stem[:100] or 'file'}.{extension}"
