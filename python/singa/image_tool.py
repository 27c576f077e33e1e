"""SINGA's ``singa.image_tool``: image augmentation over Pillow.

``ImageTool`` holds a list of PIL images and applies augmentations to all of them;
in-place operations return the tool, so they chain::

    from singa import image_tool

    tool = image_tool.ImageTool()
    imgs = tool.load('input.png').resize_by_list([112]).crop5((96, 96), 5) \\
        .enhance().flip().get()

Operations that have a countable set of cases (``crop5``: five positions, ``flip``:
flipped or not, ...) take ``num_case``: how many of them each image turns into (1 for
training, all of them for testing). Randomness comes from Python's ``random`` module,
so ``random.seed`` makes a run repeatable, as in SINGA.

Pillow is optional: ``pip install 'singa[images]'``. Without it this module imports, and
every function raises an ImportError that says so.
"""

import math
import random

import numpy as np

try:
    from PIL import Image, ImageEnhance
except ImportError:  # the images extra is not installed
    Image = ImageEnhance = None

__all__ = ["load_img", "crop", "crop_and_resize", "resize", "color_cast", "enhance", "flip",
           "flip_down", "get_list_sample", "ImageTool"]

_CROP5_POSITIONS = ("left_top", "left_bottom", "right_top", "right_bottom", "center")
_CROP3_LANDSCAPE = ("left", "center", "right")
_CROP3_PORTRAIT = ("top", "middle", "bottom")


def _pil():
    if Image is None:
        raise ImportError("singa.image_tool needs Pillow, which is not installed: "
                          "pip install 'singa[images]' (or pip install Pillow)")
    return Image


def _bilinear():
    image = _pil()
    return getattr(image, "Resampling", image).BILINEAR


def _check_patch(where, patch):
    try:
        w, h = (int(v) for v in patch)
    except (TypeError, ValueError):
        raise ValueError("{}: patch must be (width, height), got {!r}"
                         .format(where, patch)) from None
    if w <= 0 or h <= 0:
        raise ValueError("{}: patch sizes must be positive, got {!r}".format(where, patch))
    return w, h


def load_img(path, grayscale=False):
    """Reads the image at ``path`` as RGB (also when it is stored in grayscale or with
    an alpha channel), or as 8-bit grayscale ('L') when ``grayscale``."""
    img = _pil().open(path)
    return img.convert("L" if grayscale else "RGB")


def crop(img, patch, position):
    """Cuts a ``patch`` = (width, height) out of ``img`` at ``position``: 'left_top',
    'left_bottom', 'right_top', 'right_bottom' or 'center'."""
    _pil()
    pw, ph = _check_patch("crop", patch)
    w, h = img.size
    if w < pw or h < ph:
        raise ValueError("crop: the image ({}x{}) is smaller than the patch ({}x{})"
                         .format(w, h, pw, ph))
    corners = {"left_top": (0, 0), "left_bottom": (0, h - ph), "right_top": (w - pw, 0),
               "right_bottom": (w - pw, h - ph), "center": ((w - pw) // 2, (h - ph) // 2)}
    if position not in corners:
        raise ValueError("crop: position must be one of {}, got {!r}"
                         .format(", ".join(_CROP5_POSITIONS), position))
    left, top = corners[position]
    return img.crop((left, top, left + pw, top + ph))


def crop_and_resize(img, patch, position):
    """Cuts the largest square out of ``img`` at ``position`` ('left', 'center',
    'right' along the width; 'top', 'middle', 'bottom' along the height) and scales it
    to ``patch`` = (width, height)."""
    size = _check_patch("crop_and_resize", patch)
    w, h = img.size
    s = min(w, h)
    boxes = {"left": (0, 0), "center": ((w - s) // 2, 0), "right": (w - s, 0),
             "top": (0, 0), "middle": (0, (h - s) // 2), "bottom": (0, h - s)}
    if position not in boxes:
        raise ValueError("crop_and_resize: position must be one of {}, got {!r}".format(
            ", ".join(_CROP3_LANDSCAPE + _CROP3_PORTRAIT), position))
    left, top = boxes[position]
    return img.crop((left, top, left + s, top + s)).resize(size, _bilinear())


def resize(img, small_size):
    """Scales ``img`` so that its shorter side is ``small_size``, keeping the aspect."""
    small_size = int(small_size)
    if small_size <= 0:
        raise ValueError("resize: small_size must be positive, got {}".format(small_size))
    w, h = img.size
    if w < h:
        new_size = (small_size, int(small_size * h / w))
    else:
        new_size = (int(small_size * w / h), small_size)
    return img.resize(new_size, _bilinear())


def color_cast(img, offset):
    """Adds to each channel, with probability 1/2, one random integer from
    [-offset, offset] (clipped to 0..255)."""
    image = _pil()
    offset = _check_offset("color_cast", offset)
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGB")  # palette or other modes: shift colors, not indices
    x = np.asarray(img, dtype=np.int16)
    channels = 1 if x.ndim == 2 else x.shape[2]
    cast = np.zeros(channels, dtype=np.int16)
    for c in range(channels):
        if random.randint(0, 1):
            cast[c] = random.randint(-offset, offset)
    y = np.clip(x + (cast[0] if x.ndim == 2 else cast), 0, 255).astype(np.uint8)
    return image.fromarray(y, img.mode)


def _check_offset(where, offset):
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) \
            or not 0 <= offset <= 255:
        raise ValueError("{}: offset must be an int in [0, 255], got {!r}".format(where, offset))
    return int(offset)


def enhance(img, scale):
    """Changes each of color, contrast, brightness and sharpness, with probability
    1/2, by a random factor from [1 - scale, 1 + scale]."""
    _pil()
    for enhancer in (ImageEnhance.Color, ImageEnhance.Contrast, ImageEnhance.Brightness,
                     ImageEnhance.Sharpness):
        if random.randint(0, 1):
            img = enhancer(img).enhance(random.uniform(1 - scale, 1 + scale))
    return img


def flip(img):
    """``img`` mirrored left to right."""
    image = _pil()
    return img.transpose(getattr(image, "Transpose", image).FLIP_LEFT_RIGHT)


def flip_down(img):
    """``img`` mirrored top to bottom."""
    image = _pil()
    return img.transpose(getattr(image, "Transpose", image).FLIP_TOP_BOTTOM)


def get_list_sample(l, sample_size):
    """``sample_size`` distinct items of ``l`` drawn at random, in their order in ``l``."""
    return [l[i] for i in sorted(random.sample(range(len(l)), sample_size))]


def _check_num_case(where, num_case, most):
    if isinstance(num_case, bool) or not isinstance(num_case, int) \
            or not 1 <= num_case <= most:
        raise ValueError("{}: num_case must be an int in [1, {}], got {!r}"
                         .format(where, most, num_case))


class ImageTool(object):
    """A list of PIL images and augmentations applied to each of them.

    Operations with ``inplace=True`` (the default) replace the list and return the
    tool, for chaining; with ``inplace=False`` they return the new images and leave the
    list as it was.
    """

    def __init__(self):
        self.imgs = []
        self._cases = 1

    def load(self, path, grayscale=False):
        """Makes the image at ``path`` the only one (see :func:`load_img`)."""
        self.imgs = [load_img(path, grayscale)]
        self._cases = 1
        return self

    def set(self, imgs):
        """Makes ``imgs`` (a list of PIL images, or one image) the images to work on."""
        single = Image is not None and isinstance(imgs, Image.Image)
        self.imgs = [imgs] if single else list(imgs)
        self._cases = 1
        return self

    def append(self, img):
        """Adds one image to the list."""
        self.imgs.append(img)
        return self

    def get(self):
        """The current list of images."""
        return self.imgs

    def num_augmentation(self):
        """How many images each loaded (or set) image has become through the in-place
        operations since: the product of their ``num_case``."""
        return self._cases

    def _result(self, new_imgs, inplace, cases):
        if not inplace:
            return new_imgs
        self.imgs = new_imgs
        self._cases *= cases
        return self

    def resize_by_range(self, rng, inplace=True):
        """Scales each image so its shorter side is one random size from
        ``range(rng[0], rng[1])``."""
        sizes = list(range(rng[0], rng[1]))
        if not sizes:
            raise ValueError("resize_by_range: the range {} holds no size".format(tuple(rng)))
        return self.resize_by_list(sizes, 1, inplace)

    def resize_by_list(self, size_list, num_case=1, inplace=True):
        """Scales each image so its shorter side is each of ``num_case`` sizes drawn from
        ``size_list`` (all of them when ``num_case == len(size_list)``)."""
        _check_num_case("resize_by_list", num_case, len(size_list))
        new_imgs = []
        for img in self.imgs:
            sizes = size_list if num_case == len(size_list) else \
                get_list_sample(size_list, num_case)
            new_imgs.extend(resize(img, s) for s in sizes)
        return self._result(new_imgs, inplace, num_case)

    def rotate_by_range(self, rng, inplace=True):
        """Rotates each image by one random angle (degrees, counter-clockwise) from
        ``range(rng[0], rng[1])``."""
        angles = list(range(rng[0], rng[1]))
        if not angles:
            raise ValueError("rotate_by_range: the range {} holds no angle"
                             .format(tuple(rng)))
        return self.rotate_by_list(angles, 1, inplace)

    def rotate_by_list(self, angle_list, num_case=1, inplace=True):
        """Rotates each image by each of ``num_case`` angles drawn from ``angle_list``
        (all of them when ``num_case == len(angle_list)``); the size stays, the
        corners turn black."""
        _check_num_case("rotate_by_list", num_case, len(angle_list))
        new_imgs = []
        for img in self.imgs:
            angles = angle_list if num_case == len(angle_list) else \
                get_list_sample(angle_list, num_case)
            new_imgs.extend(img.rotate(a) for a in angles)
        return self._result(new_imgs, inplace, num_case)

    def crop5(self, patch, num_case=1, inplace=True):
        """Crops ``patch`` = (width, height) from each image at ``num_case`` of the four
        corners and the center (drawn per image; all five when ``num_case == 5``)."""
        _check_num_case("crop5", num_case, len(_CROP5_POSITIONS))
        new_imgs = []
        for img in self.imgs:
            positions = _CROP5_POSITIONS if num_case == 5 else \
                get_list_sample(_CROP5_POSITIONS, num_case)
            new_imgs.extend(crop(img, patch, p) for p in positions)
        return self._result(new_imgs, inplace, num_case)

    def crop3(self, patch, num_case=1, inplace=True):
        """Takes the largest square of each image at ``num_case`` of three positions
        (left/center/right for a wide image, top/middle/bottom otherwise) and scales it
        to ``patch``, which must be square."""
        pw, ph = _check_patch("crop3", patch)
        if pw != ph:
            raise ValueError("crop3: patch must be a square, got {!r}".format(patch))
        _check_num_case("crop3", num_case, 3)
        new_imgs = []
        for img in self.imgs:
            choices = _CROP3_LANDSCAPE if img.size[0] > img.size[1] else _CROP3_PORTRAIT
            positions = choices if num_case == 3 else get_list_sample(choices, num_case)
            new_imgs.extend(crop_and_resize(img, patch, p) for p in positions)
        return self._result(new_imgs, inplace, num_case)

    def crop8(self, patch, num_case=1, inplace=True):
        """``num_case`` of the eight cases of crop5 and crop3 together: a random draw of
        the eight decides how many come from each."""
        _check_num_case("crop8", num_case, 8)
        if num_case == 8:
            from_crop5 = 5
        else:
            from_crop5 = sum(1 for s in get_list_sample(list(range(8)), num_case) if s < 5)
        new_imgs = []
        # Interleave per image, so each image's crops stay together as in crop5/crop3.
        for img in self.imgs:
            part = ImageTool().set([img])
            if from_crop5:
                new_imgs += part.crop5(patch, from_crop5, False)
            if num_case - from_crop5:
                new_imgs += part.crop3(patch, num_case - from_crop5, False)
        return self._result(new_imgs, inplace, num_case)

    def random_crop(self, patch, inplace=True):
        """Crops ``patch`` = (width, height) from each image at a random offset."""
        pw, ph = _check_patch("random_crop", patch)
        new_imgs = []
        for img in self.imgs:
            w, h = img.size
            if w < pw or h < ph:
                raise ValueError("random_crop: the image ({}x{}) is smaller than the patch "
                                 "({}x{})".format(w, h, pw, ph))
            left, top = random.randint(0, w - pw), random.randint(0, h - ph)
            new_imgs.append(img.crop((left, top, left + pw, top + ph)))
        return self._result(new_imgs, inplace, 1)

    def random_crop_resize(self, patch, inplace=True):
        """Crops a random region of 8% to 100% of each image's area with an aspect
        ratio in [3/4, 4/3] and scales it to ``patch`` (the whole image when ten
        draws find no region that fits)."""
        size = _check_patch("random_crop_resize", patch)
        new_imgs = []
        for img in self.imgs:
            w, h = img.size
            out = None
            for _ in range(10):
                area = random.uniform(0.08, 1.0) * w * h
                aspect = random.uniform(3.0 / 4, 4.0 / 3)
                cw = int(round(math.sqrt(area * aspect)))
                ch = int(round(math.sqrt(area / aspect)))
                if 0 < cw <= w and 0 < ch <= h:
                    left, top = random.randint(0, w - cw), random.randint(0, h - ch)
                    out = img.crop((left, top, left + cw, top + ch)).resize(size, _bilinear())
                    break
            new_imgs.append(out if out is not None else img.resize(size, _bilinear()))
        return self._result(new_imgs, inplace, 1)

    def _flip_cases(self, where, fn, num_case, inplace):
        if num_case not in (1, 2) or isinstance(num_case, bool):
            raise ValueError("{}: num_case must be 1 (flip at random) or 2 (both), got {!r}"
                             .format(where, num_case))
        new_imgs = []
        for img in self.imgs:
            if num_case == 2:
                new_imgs += [fn(img), img]
            else:
                new_imgs.append(fn(img) if random.randint(0, 1) else img)
        return self._result(new_imgs, inplace, num_case)

    def flip(self, num_case=1, inplace=True):
        """Mirrors each image left to right with probability 1/2 (``num_case=1``), or
        keeps both the mirrored and the original image (``num_case=2``)."""
        return self._flip_cases("flip", flip, num_case, inplace)

    def flip_down(self, num_case=1, inplace=True):
        """As :meth:`flip`, mirroring top to bottom."""
        return self._flip_cases("flip_down", flip_down, num_case, inplace)

    def color_cast(self, offset=20, inplace=True):
        """Shifts the channels of each image (see :func:`color_cast`); ``offset`` in
        [0, 255]."""
        _check_offset("color_cast", offset)
        return self._result([color_cast(img, offset) for img in self.imgs], inplace, 1)

    def enhance(self, scale=0.2, inplace=True):
        """Randomly changes color, contrast, brightness and sharpness of each image
        (see :func:`enhance`)."""
        if not 0 <= scale <= 1:
            raise ValueError("enhance: scale must be in [0, 1], got {}".format(scale))
        return self._result([enhance(img, scale) for img in self.imgs], inplace, 1)
