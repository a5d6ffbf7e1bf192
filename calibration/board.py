"""The ChArUco calibration board's printable files (PNG with its DPI, PDF at true scale); the board itself is
`dexumi.board.BoardSpec` (the tracker and the simulated rig use the same one).

The PDF is written by hand (a few objects, the board embedded as one Flate-compressed grey image) so that the
image is placed at exactly the board's physical size on the page, with a 100 mm check bar and a caption;
`pdf_image_size_mm` reads the placement back for verification.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dexumi.board import BoardSpec
from dexumi.errors import DexumiError
from dexumi.safe_output import write_atomic

MM_PER_INCH = 25.4
PT_PER_MM = 72.0 / MM_PER_INCH
A4_MM = (210.0, 297.0)


def _png_with_dpi(img: np.ndarray, dpi: float) -> bytes:
    """PNG bytes with a pHYs chunk, so that viewers and printers know the intended size."""
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DexumiError("PNG encoding failed")
    data = buf.tobytes()
    ppm = int(round(dpi / 0.0254))
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return data[:ihdr_end] + chunk + data[ihdr_end:]


@dataclass(frozen=True)
class PrintedBoard:
    png: Path
    pdf: Path
    px_per_square: int
    dpi: float
    page_mm: tuple[float, float]


def write_board(
    spec: BoardSpec, png: str | Path, pdf: str | Path, dpi: float = 300.0, margin_mm: float = 10.0
) -> PrintedBoard:
    """PNG (with its DPI) and PDF (image placed at true scale, on A4 when it fits, with a 100 mm bar)."""
    px_per_square = max(20, int(round(spec.square_mm / MM_PER_INCH * dpi)))
    true_dpi = px_per_square / spec.square_mm * MM_PER_INCH
    margin_px = int(round(margin_mm / MM_PER_INCH * true_dpi))
    img = spec.image(px_per_square, margin_px)
    png, pdf = Path(png), Path(pdf)
    png.write_bytes(_png_with_dpi(img, true_dpi))
    img_w_mm = img.shape[1] / true_dpi * MM_PER_INCH
    img_h_mm = img.shape[0] / true_dpi * MM_PER_INCH
    need = (img_w_mm + 20.0, img_h_mm + 45.0)
    if need[0] <= A4_MM[0] and need[1] <= A4_MM[1]:
        page = A4_MM
    elif need[0] <= A4_MM[1] and need[1] <= A4_MM[0]:
        page = (A4_MM[1], A4_MM[0])
    else:
        page = need
    caption = (
        f"ChArUco {spec.squares_x}x{spec.squares_y}  square {spec.square_mm:g} mm  marker {spec.marker_mm:g} mm  "
        f"{spec.dictionary}  -  print at 100 % (no fit to page); the bar must measure 100 mm"
    )
    write_pdf(pdf, img, (img_w_mm, img_h_mm), page, caption)
    return PrintedBoard(png, pdf, px_per_square, true_dpi, page)


def write_pdf(
    path: Path, gray: np.ndarray, size_mm: tuple[float, float], page_mm: tuple[float, float], caption: str = ""
) -> None:
    """A one-page PDF with `gray` drawn at exactly `size_mm`, centred near the top, caption and 100 mm bar below."""
    pw, ph = page_mm[0] * PT_PER_MM, page_mm[1] * PT_PER_MM
    iw, ih = size_mm[0] * PT_PER_MM, size_mm[1] * PT_PER_MM
    x0 = (pw - iw) / 2
    y0 = ph - 10 * PT_PER_MM - ih
    bar_y = y0 - 12 * PT_PER_MM
    text = caption.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = (
        f"q {iw:.4f} 0 0 {ih:.4f} {x0:.4f} {y0:.4f} cm /Im0 Do Q\n"
        f"q 0 G 1 w {x0:.4f} {bar_y:.4f} m {x0 + 100 * PT_PER_MM:.4f} {bar_y:.4f} l S "
        f"{x0:.4f} {bar_y - 3:.4f} m {x0:.4f} {bar_y + 3:.4f} l S "
        f"{x0 + 100 * PT_PER_MM:.4f} {bar_y - 3:.4f} m {x0 + 100 * PT_PER_MM:.4f} {bar_y + 3:.4f} l S Q\n"
        f"BT /F1 8 Tf {x0:.4f} {bar_y - 14:.4f} Td ({text}) Tj ET\n"
    ).encode("latin-1", "replace")
    pixels = zlib.compress(np.ascontiguousarray(gray, np.uint8).tobytes(), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.4f} {ph:.4f}] /Contents 4 0 R "
            f"/Resources << /XObject << /Im0 5 0 R >> /Font << /F1 6 0 R >> >> >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        (
            f"<< /Type /XObject /Subtype /Image /Width {gray.shape[1]} /Height {gray.shape[0]} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(pixels)} >>\nstream\n"
        ).encode()
        + pixels
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    write_atomic(path, bytes(out))


def pdf_image_size_mm(path: str | Path) -> tuple[float, float]:
    """Width and height (mm) at which a PDF written by `write_pdf` places its image (reads the `cm` operator)."""
    data = Path(path).read_bytes()
    m = re.search(rb"q ([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm /Im0 Do Q", data)
    if not m:
        raise DexumiError(f"{path}: no placed board image found")
    return float(m.group(1)) / PT_PER_MM, float(m.group(2)) / PT_PER_MM
