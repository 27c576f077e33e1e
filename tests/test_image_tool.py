"""singa.image_tool: SINGA's ImageTool and its augmentation functions over Pillow, each
checked on the pixels of small images made by the test."""

import random
import subprocess
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from singa import image_tool  # noqa: E402


def _rgb(w, h, seed=0):
    """A w x h RGB image with random pixels (every crop position looks different)."""
    a = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return Image.fromarray(a, "RGB")


def _px(img):
    return np.asarray(img)


# ------------------------------------------------------------------ functions

def test_load_img_gives_rgb_or_grayscale(tmp_path):
    path = str(tmp_path / "g.png")
    Image.fromarray(np.full((4, 6), 77, np.uint8), "L").save(path)
    rgb = image_tool.load_img(path)
    assert rgb.mode == "RGB" and rgb.size == (6, 4)
    assert (_px(rgb) == 77).all()
    gray = image_tool.load_img(path, grayscale=True)
    assert gray.mode == "L" and _px(gray).shape == (4, 6)


@pytest.mark.parametrize("position,box", [("left_top", (0, 0)), ("left_bottom", (0, 4)),
                                          ("right_top", (5, 0)), ("right_bottom", (5, 4)),
                                          ("center", (2, 2))])
def test_crop_cuts_the_patch_at_the_position(position, box):
    img = _rgb(8, 7)
    out = image_tool.crop(img, (3, 3), position)
    left, top = box
    np.testing.assert_array_equal(_px(out), _px(img)[top:top + 3, left:left + 3])


def test_crop_rejects_big_patches_and_unknown_positions():
    with pytest.raises(ValueError, match="smaller than the patch"):
        image_tool.crop(_rgb(4, 4), (5, 2), "center")
    with pytest.raises(ValueError, match="position"):
        image_tool.crop(_rgb(4, 4), (2, 2), "middle")


def test_crop_and_resize_takes_the_square_at_the_position():
    # A wide image: left square black, right square white.
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, 4:] = 255
    img = Image.fromarray(a, "RGB")
    left = image_tool.crop_and_resize(img, (2, 2), "left")
    right = image_tool.crop_and_resize(img, (2, 2), "right")
    assert left.size == right.size == (2, 2)
    assert (_px(left) == 0).all() and (_px(right) == 255).all()
    # Same size as the square: the crop itself.
    tall = _rgb(3, 9)
    np.testing.assert_array_equal(_px(image_tool.crop_and_resize(tall, (3, 3), "bottom")),
                                  _px(tall)[6:])


def test_resize_sets_the_shorter_side_and_keeps_the_aspect():
    assert image_tool.resize(_rgb(20, 10), 5).size == (10, 5)
    assert image_tool.resize(_rgb(10, 30), 4).size == (4, 12)


def test_color_cast_shifts_each_channel_by_one_value_within_offset():
    random.seed(3)
    a = np.full((5, 5, 3), 100, np.uint8)
    a[0, 0] = (0, 250, 10)
    for _ in range(10):
        out = _px(image_tool.color_cast(Image.fromarray(a, "RGB"), 20)).astype(int)
        shift = out[1:, 1:] - 100
        assert (shift == shift[0, 0]).all()            # one value per channel
        assert (np.abs(shift) <= 20).all()
        np.testing.assert_array_equal(out[0, 0], np.clip(np.array([0, 250, 10]) +
                                                         shift[0, 0], 0, 255))


def test_enhance_with_zero_scale_changes_nothing_and_otherwise_something():
    img = _rgb(6, 6)
    np.testing.assert_array_equal(_px(image_tool.enhance(img, 0.0)), _px(img))
    random.seed(0)
    changed = [not np.array_equal(_px(image_tool.enhance(img, 0.5)), _px(img))
               for _ in range(8)]
    assert any(changed)


def test_flips_mirror_the_pixels():
    img = _rgb(5, 4)
    np.testing.assert_array_equal(_px(image_tool.flip(img)), _px(img)[:, ::-1])
    np.testing.assert_array_equal(_px(image_tool.flip_down(img)), _px(img)[::-1])


def test_get_list_sample_draws_distinct_items_in_order():
    random.seed(1)
    s = image_tool.get_list_sample(list("abcdefg"), 4)
    assert len(set(s)) == 4 and s == sorted(s)


# ------------------------------------------------------------------- ImageTool

def test_chained_augmentations_multiply_the_images(tmp_path):
    path = str(tmp_path / "in.png")
    _rgb(16, 12).save(path)
    tool = image_tool.ImageTool()
    imgs = tool.load(path).resize_by_list([10, 12], 2).crop5((8, 8), 5).enhance() \
        .flip().get()
    assert len(imgs) == 10 and all(i.size == (8, 8) for i in imgs)
    assert tool.num_augmentation() == 10
    tool.flip(2)
    assert len(tool.get()) == 20 and tool.num_augmentation() == 20


def test_inplace_false_returns_new_images_and_keeps_the_list():
    tool = image_tool.ImageTool().set([_rgb(6, 6), _rgb(6, 6, 1)])
    out = tool.crop5((4, 4), 5, inplace=False)
    assert len(out) == 10 and len(tool.get()) == 2 and tool.num_augmentation() == 1


def test_set_append_get():
    a, b = _rgb(3, 3), _rgb(4, 4)
    tool = image_tool.ImageTool().set(a)
    assert tool.get() == [a]
    assert tool.append(b).get() == [a, b]


def test_crop5_with_fewer_cases_draws_positions_for_each_image():
    random.seed(5)
    imgs = [_rgb(6, 6, s) for s in range(30)]
    tool = image_tool.ImageTool().set(imgs).crop5((2, 2), 2)
    out = tool.get()
    assert len(out) == 60
    corners = {}
    for src, pair in zip(imgs, zip(out[::2], out[1::2])):
        found = []
        for crop in pair:
            for pos in ("left_top", "left_bottom", "right_top", "right_bottom", "center"):
                if np.array_equal(_px(crop), _px(image_tool.crop(src, (2, 2), pos))):
                    found.append(pos)
        assert len(set(found)) == 2
        corners[tuple(found)] = True
    assert len(corners) > 1  # not the same two positions for every image


def test_crop3_and_crop8():
    tool = image_tool.ImageTool().set([_rgb(12, 8)])
    assert [i.size for i in tool.crop3((4, 4), 3, inplace=False)] == [(4, 4)] * 3
    assert len(tool.crop8((4, 4), 8, inplace=False)) == 8
    random.seed(2)
    assert len(tool.crop8((4, 4), 3, inplace=False)) == 3
    with pytest.raises(ValueError, match="square"):
        tool.crop3((4, 5))


def test_random_crop_is_a_window_of_the_image():
    random.seed(4)
    img = _rgb(9, 7)
    for crop in image_tool.ImageTool().set([img] * 5).random_crop((4, 3)).get():
        assert crop.size == (4, 3)
        a, c = _px(img), _px(crop)
        assert any(np.array_equal(a[t:t + 3, l:l + 4], c) for t in range(5) for l in range(6))
    with pytest.raises(ValueError, match="smaller"):
        image_tool.ImageTool().set([img]).random_crop((10, 3))


def test_random_crop_resize_gives_the_patch_size():
    random.seed(6)
    out = image_tool.ImageTool().set([_rgb(20, 15)] * 4).random_crop_resize((7, 5)).get()
    assert [i.size for i in out] == [(7, 5)] * 4


def test_rotations():
    img = _rgb(5, 5)
    out = image_tool.ImageTool().set([img]).rotate_by_list([0, 90], 2).get()
    np.testing.assert_array_equal(_px(out[0]), _px(img))
    np.testing.assert_array_equal(_px(out[1]), np.rot90(_px(img)))
    assert len(image_tool.ImageTool().set([img, img]).rotate_by_range((-10, 10)).get()) == 2


def test_resize_by_range_picks_one_size_from_the_range():
    random.seed(7)
    for _ in range(5):
        (img,) = image_tool.ImageTool().set([_rgb(20, 10)]).resize_by_range((4, 7)).get()
        assert img.size[1] in (4, 5, 6)


def test_random_operations_repeat_under_random_seed():
    def run():
        random.seed(11)
        t = image_tool.ImageTool().set([_rgb(10, 10)])
        return [_px(i) for i in t.random_crop((5, 5)).flip().color_cast(30).enhance().get()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call", [
    lambda t: t.resize_by_list([5, 6], 3),
    lambda t: t.rotate_by_list([1], 0),
    lambda t: t.crop5((2, 2), 6),
    lambda t: t.crop8((2, 2), 9),
    lambda t: t.flip(3),
    lambda t: t.flip_down(0),
    lambda t: t.color_cast(300),
    lambda t: t.enhance(-1),
    lambda t: t.resize_by_range((5, 5)),
    lambda t: t.random_crop((0, 2)),
], ids=["resize", "rotate", "crop5", "crop8", "flip", "flip_down", "color_cast",
        "enhance", "empty-range", "patch"])
def test_bad_arguments_raise_value_errors(call):
    with pytest.raises(ValueError):
        call(image_tool.ImageTool().set([_rgb(4, 4)]))


def test_without_pillow_the_module_imports_and_calls_name_the_extra():
    code = ("import sys; sys.modules['PIL'] = None\n"
            "from singa import image_tool\n"
            "try:\n"
            "    image_tool.load_img('x.png')\n"
            "except ImportError as e:\n"
            "    assert 'singa[images]' in str(e), e\n"
            "else:\n"
            "    raise SystemExit('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
