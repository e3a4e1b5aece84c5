"""A procedural garment renderer: ten class-conditional families drawn from a parameter vector.

Every image is a function of (class, u, texture seed), where u is a vector of ``NUM_PARAMS`` numbers in
[0, 1] (the *normalized* parameters). Each number maps linearly onto a physical range (a width in pixels,
a sleeve angle in degrees, a grey level, ...) or, for a categorical choice, onto equal bins. The ranges
are written from the public class names and general knowledge of how garments are cut and photographed
(centred, front view for clothes, side view for shoes, light object on a dark background); they are
never fitted to private images. In PE the private votes do the fitting.

Outlines are polygons drawn with PIL at 4x and BOX-downsampled to 28 x 28 (anti-aliased edges), as in
``privevo.data.public.procedural``. Three layers are drawn per image: the silhouette, a "part" region with
its own grey (a shoe's sole, a waistband, a collar) and dark detail lines (seams, plackets, laces, a bag's
flap); grey level, gradient, texture and outline are then applied to the whole batch at once.
"""

from __future__ import annotations

import math

import numpy as np

# The garments this simulator can draw: the Fashion-MNIST class names, in that data set's label order. A private set
# of other classes needs another API (GarmentSimulatorAPI.from_params refuses it, naming the classes it lacks).
GARMENT_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

SIZE = 28
IMAGE_SHAPE = (SIZE, SIZE, 1)
SUPER = 4  # supersampling factor of the anti-aliased outlines

# Global parameters, shared by every class.
G_SIZE, G_ASPECT, G_ROT, G_TX, G_TY = 0, 1, 2, 3, 4
G_LEVEL, G_GRAD, G_GRAD_ANGLE = 5, 6, 7
G_TEX_KIND, G_TEX_AMP, G_TEX_PERIOD, G_TEX_ANGLE = 8, 9, 10, 11
G_RIM, G_DETAIL, G_PART, G_FLIP = 12, 13, 14, 15
NUM_GLOBAL = 16
NUM_SHAPE = 10  # class-specific shape parameters S0..S9 (their meaning depends on the class)
NUM_PARAMS = NUM_GLOBAL + NUM_SHAPE

# Physical ranges of the global parameters (lo, hi), written down from general knowledge: a product photo
# fills most of the frame, is nearly upright and centred; garments range from near-black to white.
GLOBAL_RANGES = {
    G_SIZE: (19.0, 27.0),        # the long side of the object, px
    G_ASPECT: (0.85, 1.15),      # width stretch
    G_ROT: (-6.0, 6.0),          # degrees
    G_TX: (-1.5, 1.5), G_TY: (-1.5, 1.5),  # px
    G_LEVEL: (0.2, 1.0),         # mean grey of the fabric (0 black, 1 white)
    G_GRAD: (-0.25, 0.25),       # linear shading across the object
    G_GRAD_ANGLE: (0.0, 2 * math.pi),
    G_TEX_AMP: (0.0, 0.25),
    G_TEX_PERIOD: (2.0, 8.0),    # px, stripes and knit
    G_TEX_ANGLE: (0.0, math.pi),
    G_RIM: (-0.3, 0.3),          # brighter or darker outline
    G_DETAIL: (0.0, 0.7),        # how dark seams and other detail lines are
    G_PART: (0.45, 1.5),         # grey of the part region relative to the fabric
}
TEXTURES = ("none", "noise", "stripes", "knit")


def lerp(u: float, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(u)


def category(u: float, count: int) -> int:
    return min(int(float(u) * count), count - 1)


class _Canvas:
    """Three supersampled layers (silhouette, part, detail) and the pose that maps garment coordinates to pixels.

    Garment coordinates are pixels of the 28 x 28 image, centred on the object, y pointing down.
    """

    def __init__(self, u: np.ndarray):
        from PIL import Image, ImageDraw

        self.layers = [Image.new("L", (SIZE * SUPER, SIZE * SUPER), 0) for _ in range(3)]
        self.draws = [ImageDraw.Draw(layer) for layer in self.layers]
        angle = math.radians(lerp(u[G_ROT], *GLOBAL_RANGES[G_ROT]))
        self.cos, self.sin = math.cos(angle), math.sin(angle)
        self.aspect = lerp(u[G_ASPECT], *GLOBAL_RANGES[G_ASPECT])
        self.flip = -1.0 if category(u[G_FLIP], 2) else 1.0
        self.cx = SIZE / 2 + lerp(u[G_TX], *GLOBAL_RANGES[G_TX])
        self.cy = SIZE / 2 + lerp(u[G_TY], *GLOBAL_RANGES[G_TY])

    def _map(self, points):
        out = []
        for x, y in points:
            x = x * self.aspect * self.flip
            out.append(((self.cx + x * self.cos - y * self.sin) * SUPER, (self.cy + x * self.sin + y * self.cos) * SUPER))
        return out

    def polygon(self, points, layer: int = 0, fill: int = 255):
        self.draws[layer].polygon(self._map(points), fill=fill)

    def line(self, points, width: float, layer: int = 2, fill: int = 255):
        self.draws[layer].line(self._map(points), fill=fill, width=max(1, int(round(width * SUPER))), joint="curve")

    def ellipse_points(self, cx, cy, rx, ry, start=0.0, end=360.0, count=16):
        t = np.radians(np.linspace(start, end, count))
        return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))

    def result(self) -> np.ndarray:
        from PIL import Image

        small = [np.asarray(layer.resize((SIZE, SIZE), Image.BOX), dtype=np.float32) / 255.0 for layer in self.layers]
        mask = small[0]
        return np.stack([mask, small[1] * mask, small[2] * mask])


def _mirror(half):
    """A symmetric outline from its right half (x >= 0, listed top to bottom)."""
    return list(half) + [(-x, y) for x, y in reversed(half)]


# ------------------------------------------------------------------------------------------- clothes (front view)


def _top(c: _Canvas, s, size, *, height, body, sleeve_len, sleeve_angle, sleeve_w, neck_w, neck_d, long_body=False):
    """A front-view top: body (shoulders to hem) and two sleeves. Returns (top y, bottom y, body half-width)."""
    h = size * height
    top, bottom = -h / 2, h / 2
    bw = size * body
    hw = bw * lerp(s[2], 0.9, 1.12)  # hem half-width
    drop = lerp(s[8], 0.5, 2.5)       # shoulder slope
    nw = bw * neck_w
    armpit = top + drop + max(sleeve_w * 1.1, h * 0.22)
    neck = [(x, top + neck_d * math.sqrt(max(0.0, 1 - (x / nw) ** 2))) for x in np.linspace(0, nw, 5)]
    half = neck + [(bw, top + drop), (bw * 1.01, armpit), (hw, bottom)]
    c.polygon(_mirror([(x, y) for x, y in half]))
    if sleeve_len > 0.5:
        a = math.radians(sleeve_angle)
        for side in (-1, 1):
            sx, sy = side * bw, top + drop
            ex, ey = sx + side * sleeve_len * math.cos(a), sy + sleeve_len * math.sin(a)
            # The cuff is perpendicular to the sleeve; its inner corner lies below/inside the outer one.
            px, py = -side * math.sin(a) * sleeve_w, math.cos(a) * sleeve_w
            ix, iy = ex + px, ey + py
            c.polygon([(sx, sy), (ex, ey), (ix, iy), (side * bw * 0.98, armpit)])
            if long_body:  # the seam between a hanging sleeve and the body
                c.line([(side * bw, top + drop + 1), (side * bw * 0.98, armpit)], 0.6)
    return top, bottom, bw


def draw_tshirt(c, s, size):
    sleeve = size * lerp(s[3], 0.0, 0.32)  # 0: a sleeveless top
    top, bottom, bw = _top(c, s, size, height=lerp(s[0], 0.78, 1.0), body=lerp(s[1], 0.2, 0.32), sleeve_len=sleeve,
                           sleeve_angle=lerp(s[4], 15, 55), sleeve_w=lerp(s[5], 3.5, 6.5), neck_w=lerp(s[6], 0.25, 0.6),
                           neck_d=lerp(s[7], 0.5, 5.0))
    if category(s[9], 3) == 1:  # a print or pocket on the chest
        r = lerp(s[9], 1.5, 4.0)
        c.polygon(c.ellipse_points(0, top + (bottom - top) * 0.38, r * 1.3, r), layer=1)


def draw_pullover(c, s, size):
    h = lerp(s[0], 0.82, 1.0)
    top, bottom, bw = _top(c, s, size, height=h, body=lerp(s[1], 0.22, 0.33), sleeve_len=size * h * lerp(s[3], 0.75, 1.0),
                           sleeve_angle=lerp(s[4], 55, 80), sleeve_w=lerp(s[5], 4.0, 6.5), neck_w=lerp(s[6], 0.3, 0.55),
                           neck_d=lerp(s[7], 0.5, 2.5), long_body=True)
    rib = lerp(s[9], 0.0, 3.0)  # ribbed hem band
    if rib > 0.8:
        c.polygon([(-size, bottom - rib), (size, bottom - rib), (size, bottom + 1), (-size, bottom + 1)], layer=1)


def draw_coat(c, s, size):
    h = lerp(s[0], 0.9, 1.0)
    top, bottom, bw = _top(c, s, size, height=h, body=lerp(s[1], 0.24, 0.34), sleeve_len=size * h * lerp(s[3], 0.7, 0.95),
                           sleeve_angle=lerp(s[4], 62, 84), sleeve_w=lerp(s[5], 4.0, 7.0), neck_w=lerp(s[6], 0.3, 0.5),
                           neck_d=lerp(s[7], 1.0, 3.0), long_body=True)
    c.line([(0, top + 2), (0, bottom)], lerp(s[9], 0.6, 1.5))  # front opening
    lapel = lerp(s[9], 2.0, 7.0)
    c.line([(-bw * 0.45, top + 0.5), (0, top + 2 + lapel), (bw * 0.45, top + 0.5)], 0.8)
    if category(s[6], 2):  # a belt
        y = top + (bottom - top) * 0.5
        c.polygon([(-size, y - 1), (size, y - 1), (size, y + 1), (-size, y + 1)], layer=1)


def draw_shirt(c, s, size):
    reach = lerp(s[3], 0.2, 1.0)  # short to long sleeves; long ones hang closer to the body
    h = lerp(s[0], 0.8, 1.0)
    top, bottom, bw = _top(c, s, size, height=h, body=lerp(s[1], 0.21, 0.32), sleeve_len=size * h * reach,
                           sleeve_angle=lerp(s[4], 20, 45) + 35 * reach, sleeve_w=lerp(s[5], 3.5, 6.0),
                           neck_w=lerp(s[6], 0.25, 0.45), neck_d=lerp(s[7], 0.5, 2.0), long_body=reach > 0.6)
    nw = bw * lerp(s[6], 0.25, 0.45)
    collar = lerp(s[9], 2.0, 4.5)
    for side in (-1, 1):
        c.polygon([(side * nw * 0.2, top + collar), (side * nw * 1.3, top - 0.3), (side * nw * 1.5, top + collar * 0.8)],
                  layer=1)
    c.line([(0, top + collar), (0, bottom)], 0.7)  # placket
    for y in np.linspace(top + collar + 2, bottom - 2, 4):
        c.line([(-0.6, y), (0.6, y)], 0.9)  # buttons


def draw_dress(c, s, size):
    h = size * lerp(s[0], 0.9, 1.0)
    top, bottom = -h / 2, h / 2
    bw = size * lerp(s[1], 0.12, 0.21)
    waist_y = top + h * lerp(s[2], 0.28, 0.45)
    ww = bw * lerp(s[5], 0.7, 1.0)
    hem = size * lerp(s[3], 0.2, 0.45)
    nw, nd = bw * lerp(s[6], 0.3, 0.7), lerp(s[7], 0.5, 5.0)
    neck = [(x, top + nd * math.sqrt(max(0.0, 1 - (x / nw) ** 2))) for x in np.linspace(0, nw, 5)]
    armpit = top + h * 0.14
    c.polygon(_mirror(neck + [(bw, top + 0.5), (bw, armpit), (ww, waist_y), (hem, bottom)]))
    sleeve = size * lerp(s[4], -0.1, 0.22)  # below 0.5 px: sleeveless
    if sleeve > 0.5:
        for side in (-1, 1):
            c.polygon([(side * bw, top + 0.5), (side * (bw + sleeve * 0.8), top + 0.5 + sleeve * 0.6),
                       (side * (bw + sleeve * 0.8 - 2.0), top + 2.5 + sleeve * 0.6), (side * bw, armpit)])
    if category(s[9], 2):  # a waist seam or belt
        c.line([(-ww * 1.1, waist_y), (ww * 1.1, waist_y)], lerp(s[8], 0.6, 2.0))


def draw_trouser(c, s, size):
    h = size * lerp(s[0], 0.92, 1.0)
    top, bottom = -h / 2, h / 2
    ww = size * lerp(s[1], 0.14, 0.25)          # waist half-width
    outer = ww * lerp(s[2], 0.8, 1.35)          # hem: outer edge
    leg = lerp(s[3], 3.5, 8.0)                  # hem width of one leg
    crotch = top + h * lerp(s[4], 0.18, 0.38)
    inner = max(0.3, outer - leg)
    c.polygon([(-ww, top), (ww, top), (outer, bottom), (inner, bottom), (0.15, crotch), (-0.15, crotch),
               (-inner, bottom), (-outer, bottom)])
    band = lerp(s[5], 0.0, 3.0)
    if band > 0.8:
        c.polygon([(-size, top - 1), (size, top - 1), (size, top + band), (-size, top + band)], layer=1)
    if category(s[9], 2):  # the crease down each leg
        for side in (-1, 1):
            c.line([(side * ww * 0.5, top + band + 1), (side * (inner + outer) / 2, bottom - 0.5)], 0.6)


def draw_bag(c, s, size):
    w = size * lerp(s[0], 0.72, 1.0)
    handle_style = category(s[6], 3)              # 0: top handle (arc), 1: none (clutch), 2: two straps
    handle_h = 0.0 if handle_style == 1 else size * lerp(s[3], 0.12, 0.35)
    body_h = min(w * lerp(s[1], 0.5, 0.95), size - handle_h)
    total = body_h + handle_h
    body_top, bottom = -total / 2 + handle_h, total / 2
    tw = w / 2 * lerp(s[2], 0.7, 1.0)
    c.polygon([(-tw, body_top), (tw, body_top), (w / 2, bottom), (-w / 2, bottom)])
    hw = tw * lerp(s[4], 0.3, 0.85)
    thick = lerp(s[5], 1.0, 2.5)
    if handle_style == 0:
        c.line(c.ellipse_points(0, body_top, hw, handle_h, 180, 360, 12), thick, layer=0)
    elif handle_style == 2:
        c.line([(-hw, body_top), (-hw * 0.6, body_top - handle_h), (hw * 0.6, body_top - handle_h), (hw, body_top)],
               thick, layer=0)
    flap = category(s[7], 3)
    if flap == 1:
        depth = body_h * lerp(s[8], 0.25, 0.6)
        c.line([(-tw, body_top + 0.5), (0, body_top + depth), (tw, body_top + 0.5)], 0.8)
    elif flap == 2:
        y = body_top + body_h * lerp(s[8], 0.15, 0.45)
        c.polygon([(-size, body_top - 1), (size, body_top - 1), (size, y), (-size, y)], layer=1)


# ------------------------------------------------------------------------------------------- shoes (side view)
# Toe on the left (x < 0) before the pose's flip; the ground is the bottom edge.


def draw_sneaker(c, s, size):
    length = size
    h = length * lerp(s[0], 0.32, 0.55)
    top, ground = -h / 2, h / 2
    x0, x1 = -length / 2, length / 2
    toe_h = h * lerp(s[2], 0.35, 0.6)
    collar = h * lerp(s[3], 0.0, 0.3)           # how deep the ankle opening dips
    heel_slope = lerp(s[4], 0.0, 2.5)
    c.polygon([(x0, ground - 1.0), (x0 + 0.5, ground - toe_h * 0.8), (x0 + length * 0.12, ground - toe_h),
               (x0 + length * 0.45, top + h * 0.15), (x0 + length * 0.62, top + collar),
               (x1 - length * 0.12, top + collar * 0.5), (x1 - heel_slope, top), (x1, top + 1.5), (x1, ground),
               (x0 + 1.0, ground)])
    sole = lerp(s[1], 1.2, 4.0)
    c.polygon([(x0 - 1, ground - sole), (x1 + 1, ground - sole), (x1 + 1, ground + 1), (x0 - 1, ground + 1)], layer=1)
    if category(s[5], 2):  # laces along the vamp
        for t in np.linspace(0.2, 0.85, 4):
            x = x0 + length * (0.2 + 0.3 * t)
            y = ground - toe_h - (ground - toe_h - top - h * 0.15) * t
            c.line([(x - 0.8, y + 0.6), (x + 0.8, y + 1.4)], 0.7)
    if category(s[6], 2):  # a side stripe
        c.line([(x0 + length * 0.35, ground - sole - 0.5), (x1 - length * 0.25, top + h * 0.45)], lerp(s[7], 0.7, 1.8))


def draw_ankle_boot(c, s, size):
    height = size * lerp(s[1], 0.75, 1.0)
    length = size * lerp(s[0], 0.8, 1.0)
    top, ground = -height / 2, height / 2
    x0, x1 = -length / 2, length / 2
    shaft = length * lerp(s[2], 0.35, 0.55)     # width of the shaft at the top
    heel_h = lerp(s[3], 1.0, 7.0)
    toe_h = height * lerp(s[4], 0.25, 0.45)
    heel_w = lerp(s[5], 2.5, 6.0)
    instep = ground - toe_h - (height - toe_h) * lerp(s[6], 0.2, 0.5)
    c.polygon([(x0, ground - 1.0), (x0 + 0.5, ground - toe_h * 0.8), (x0 + length * 0.15, ground - toe_h),
               (x1 - shaft - 1.0, instep), (x1 - shaft, top), (x1 - 0.5, top), (x1, ground - heel_h),
               (x1, ground), (x1 - heel_w, ground), (x1 - heel_w - 1.0, ground - heel_h),
               (x0 + length * 0.35, ground - heel_h * 0.6), (x0 + 1.0, ground)])
    sole = lerp(s[7], 1.0, 3.0)
    c.polygon([(x0 - 1, ground - sole), (x1 - heel_w - 1.0, ground - sole - heel_h * 0.4), (x1 + 1, ground - sole - heel_h),
               (x1 + 1, ground + 1), (x0 - 1, ground + 1)], layer=1)
    if category(s[9], 2):  # a zip or elastic panel on the shaft
        c.line([(x1 - shaft * 0.5, top + 0.5), (x1 - shaft * 0.5, instep + 1)], lerp(s[8], 0.6, 2.0))


def draw_sandal(c, s, size):
    length = size
    heel_h = size * lerp(s[1], -0.1, 0.45)      # below 0: flat
    heel_h = max(heel_h, 0.0)
    height = max(size * lerp(s[5], 0.3, 0.55), heel_h + 5.0)
    top, ground = -height / 2, height / 2
    x0, x1 = -length / 2, length / 2
    sole = lerp(s[0], 1.5, 3.5)
    # The sole runs from the toe (on the ground) up to the heel seat (heel_h above the ground).
    seat = ground - heel_h
    c.polygon([(x0, ground - sole), (x0 + length * 0.45, ground - sole - heel_h * 0.15), (x1, seat - sole), (x1, seat),
               (x0 + length * 0.5, ground - heel_h * 0.1), (x0, ground)])
    if heel_h > 0.5:
        wedge = category(s[2], 2)
        hw = lerp(s[2], 1.0, 3.0) if not wedge else length * lerp(s[2], 0.25, 0.5)
        c.polygon([(x1 - hw, seat), (x1, seat), (x1 - 0.3, ground), (x1 - max(1.0, hw * 0.6), ground)])
    straps = 1 + category(s[3], 4)
    thick = lerp(s[4], 1.2, 2.6)
    for i in range(straps):
        t = (i + 0.5) / straps
        x = x0 + length * (0.15 + 0.55 * t)
        base = ground - sole - heel_h * max(0.0, (x - x0) / length - 0.2)
        rise = (height - heel_h) * lerp(s[6], 0.35, 0.9) * (0.6 + 0.4 * t)
        c.line(c.ellipse_points(x, base, length * 0.09, rise, 180, 360, 8), thick, layer=0)
    if category(s[7], 2):  # an ankle strap
        c.line([(x1 - length * 0.15, seat - sole), (x1 - length * 0.2, top + 1), (x1 - 1, top + 1.5), (x1 - 0.5, seat - sole)],
               thick, layer=0)


DRAW = {0: draw_tshirt, 1: draw_trouser, 2: draw_pullover, 3: draw_dress, 4: draw_coat, 5: draw_sandal,
        6: draw_shirt, 7: draw_sneaker, 8: draw_bag, 9: draw_ankle_boot}
assert len(DRAW) == len(GARMENT_CLASSES)


def draw_layers(class_index: int, u: np.ndarray) -> np.ndarray:
    """(3, 28, 28) float32 layers in [0, 1] (silhouette, part, detail) of one garment."""
    canvas = _Canvas(u)
    size = lerp(u[G_SIZE], *GLOBAL_RANGES[G_SIZE])
    DRAW[int(class_index)](canvas, u[NUM_GLOBAL:], size)
    return canvas.result()


_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _erode(masks: np.ndarray) -> np.ndarray:
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1)))
    out = masks.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.minimum(out, padded[:, dy: dy + SIZE, dx: dx + SIZE], out=out)
    return out


def shade(layers: np.ndarray, u: np.ndarray, texture_seeds: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28, 1) images from (N, 3, 28, 28) layers and the global fill parameters, for a whole batch."""
    f32 = np.float32

    def col(index):
        lo, hi = GLOBAL_RANGES[index]
        return (lo + (hi - lo) * u[:, index]).astype(f32)[:, None, None]

    mask, part, detail = layers[:, 0], layers[:, 1], layers[:, 2]
    n = len(u)
    angle = col(G_GRAD_ANGLE)
    proj = ((_XX - 13.5) * np.cos(angle) + (_YY - 13.5) * np.sin(angle)) / f32(14.0)
    level = col(G_LEVEL)
    value = level + col(G_GRAD) * proj
    value = value + part * (col(G_PART) - 1) * level  # the part region: its own grey relative to the fabric

    kind = np.minimum((u[:, G_TEX_KIND] * len(TEXTURES)).astype(int), len(TEXTURES) - 1)
    amp, period, tex_angle = col(G_TEX_AMP), col(G_TEX_PERIOD), col(G_TEX_ANGLE)
    freq = 2 * np.pi / period
    texture = np.zeros((n, SIZE, SIZE), f32)
    for i in np.flatnonzero(kind == 1):  # fabric noise: its own seeded stream per image
        texture[i] = np.random.default_rng(int(texture_seeds[i])).standard_normal((SIZE, SIZE), dtype=f32)
    coord = _XX * np.cos(tex_angle) + _YY * np.sin(tex_angle)
    stripes = np.sin(coord * freq)
    knit = np.sin(_XX * freq) * np.sin(_YY * freq)
    texture = np.where((kind == 2)[:, None, None], stripes, np.where((kind == 3)[:, None, None], knit, texture))
    value = value + amp * texture * np.where(kind == 1, 0.6, 1.0)[:, None, None] * (kind > 0)[:, None, None]

    rim = mask - _erode(mask)
    value = value * (1 + col(G_RIM) * rim)
    value = value * (1 - col(G_DETAIL) * detail)
    out = np.clip(value, 0.15, 1.0) * mask  # a dark garment stays visible against the background
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)[..., None]


def render(class_indices: np.ndarray, u: np.ndarray, texture_seeds: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28, 1) garments: class ``class_indices[i]`` drawn from normalized parameters ``u[i]``."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] != NUM_PARAMS:
        raise ValueError(f"garment parameters must have shape (N, {NUM_PARAMS}), got {u.shape}")
    if len(u) == 0:
        return np.zeros((0, SIZE, SIZE, 1), np.uint8)
    layers = np.stack([draw_layers(c, row) for c, row in zip(class_indices, u)])
    return shade(layers, u, texture_seeds)
