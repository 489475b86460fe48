#!/usr/bin/env python3
"""Open a run's report in a real browser (headless Chromium) and fail on a blank or broken page.

    python3 ci/report-check.py RUN_DIR OUT_DIR

1. Chromium loads RUN_DIR/index.html and dumps the DOM it built: the page must have its provenance,
   its checks and every chart the HTML source carries (one <svg> per <figure class="chart">), and no
   "could not be drawn" error.
2. Chromium screenshots the top of the page, and a page made of the report's own charts, to PNG in
   OUT_DIR; each PNG is decoded here (no imaging library needed) and must not be blank: enough
   non-white pixels and enough distinct colours.
Exit 0 when the page passes, 1 when it is blank or broken, 2 when Chromium cannot run.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(args, profile):
    cmd = ["chromium", *FLAGS, f"--user-data-dir={profile}", *args]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=120, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"report-check: cannot run chromium: {e}", file=sys.stderr)
        sys.exit(2)


def screenshot(page, size, png, profile):
    """Chromium's screenshot of `page` at window `size` ("W,H") into `png`; exit 2 when it fails."""
    r = chromium([f"--window-size={size}", f"--screenshot={png}", f"file://{os.path.abspath(page)}"], profile)
    if r.returncode != 0 or not os.path.exists(png):
        print(f"report-check: screenshot of {page} failed: {r.stderr[-500:]}", file=sys.stderr)
        sys.exit(2)
    return png


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"{path}: PNG depth {depth} colour type {ctype} not handled")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    i = 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def not_blank(path, what, min_ink=0.01, min_colours=8):
    w, h, bpp, rows = png_pixels(path)
    ink, colours = 0, set()
    for r in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = (r[x], r[x + 1], r[x + 2])
            if px != (255, 255, 255):
                ink += 1
            if len(colours) < 4096:
                colours.add(px)
    total = ((h + 1) // 2) * ((w + 1) // 2)
    frac = ink / total
    ok = frac >= min_ink and len(colours) >= min_colours
    print(f"  {'PASS' if ok else 'FAIL'} {what}: {w}×{h} px, {frac * 100:.1f} % non-white, "
          f"{len(colours)} distinct colours ({path})")
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    run, out = sys.argv[1], sys.argv[2]
    page = os.path.abspath(os.path.join(run, "index.html"))
    if not os.path.exists(page):
        print(f"report-check: {page} does not exist (run `ingest-lab report {run}` first)", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)
    src = open(page, encoding="utf-8").read()
    figures = src.count('<figure class="chart">')
    ok = True
    with tempfile.TemporaryDirectory() as profile:
        dom = chromium(["--dump-dom", f"file://{page}"], profile)
        if dom.returncode != 0 or "<body" not in dom.stdout:
            print(f"report-check: chromium could not load {page}: {dom.stderr[-500:]}", file=sys.stderr)
            return 2
        d = dom.stdout
        svgs = len(re.findall(r"<svg[\s>]", d))
        checks = [
            ("the page has its provenance table", "<h2>Provenance</h2>" in d),
            ("the page has its check verdicts", "<h2>Checks</h2>" in d),
            (f"every chart in the source is in the rendered page ({svgs} <svg> for {figures} figures)",
             figures > 0 and svgs >= figures),
            ("no chart failed to draw", "could not be drawn" not in d),
            ("at least one evidence table", d.count("<table") >= 2),
        ]
        for what, held in checks:
            print(f"  {'PASS' if held else 'FAIL'} {what}")
            ok &= held
        top = screenshot(page, "1280,2400", os.path.join(out, "report-top.png"), profile)
        ok &= not_blank(top, "top of the report")
        # The charts, on a page of their own (they sit below the fold of the report).
        charts = re.findall(r'<figure class="chart">.*?</figure>', src, re.S)
        if charts:
            cpage = os.path.join(out, "charts.html")
            with open(cpage, "w", encoding="utf-8") as f:
                f.write('<!doctype html><html><body style="margin:0">' + "".join(charts[:6]) + "</body></html>")
            # Charts are 1000 px wide (the legend column included).
            shot = screenshot(cpage, "1020,2300", os.path.join(out, "report-charts.png"), profile)
            ok &= not_blank(shot, f"the first {min(6, len(charts))} charts", min_ink=0.03, min_colours=12)
    print(f"report-check: {'PASS' if ok else 'FAIL'} ({page})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
