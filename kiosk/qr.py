"""QR codes for the screen: text -> a PNG in memory (the ``qrcode`` package), read by Kivy."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants


def qr_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """A QR code of ``text`` (UTF-8, error correction M) with the standard 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_texture(text: str):  # -> kivy.graphics.texture.Texture
    """The QR code of ``text`` as a Kivy texture (pixel-exact: no smoothing of its modules)."""
    from kivy.core.image import Image as CoreImage

    texture = CoreImage(io.BytesIO(qr_png(text)), ext="png").texture
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture
