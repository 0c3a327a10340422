"""The shared augmentations: each op does what it says, on images and points, and the
gradient reaches its input."""
import pytest
import torch

from modeguard.augment import (ada_augment, cut_out, flip_points, random_augment, random_translation, rotate90,
                               rotate_points, scale_contrast, scale_saturation, translate)


def _dot(n=4, side=8, y=3, x=4):
    img = torch.zeros(n, 1, side, side)
    img[:, :, y, x] = 1.0
    return img


def _position(img):
    """(row, col) of the brightest pixel of each image."""
    flat = img.reshape(len(img), -1).argmax(1)
    return flat // img.shape[-1], flat % img.shape[-1]


@pytest.mark.parametrize("pad", ["zeros", "reflect"])
def test_translate_moves_content_by_the_given_amount(pad):
    dy, dx = torch.tensor([0, 1, -2, 3]), torch.tensor([2, -1, 0, -4])
    out = translate(_dot(), dy, dx, pad)
    assert out[torch.arange(4), 0, 3 + dy, 4 + dx].eq(1).all()
    if pad == "zeros":
        assert out.sum() == 4  # reflection may also mirror the dot back into the frame


def test_translate_zero_padding_drops_what_leaves_and_reflect_mirrors_it():
    assert translate(_dot(1, 8, 0, 0), torch.tensor([-1]), torch.tensor([0]), "zeros").sum() == 0
    mirrored = translate(_dot(1, 8, 1, 0), torch.tensor([2]), torch.tensor([0]), "reflect")
    assert mirrored[0, 0, 3, 0] == 1 and mirrored[0, 0, 1, 0] == 1 and mirrored.sum() == 2  # row -1 mirrors row 1


def test_gradient_flows_through_translation_to_the_moved_pixels():
    img = torch.rand(2, 3, 8, 8, requires_grad=True)
    out = translate(img, torch.tensor([2, 0]), torch.tensor([0, -3]))
    out.sum().backward()
    grad = img.grad
    assert grad[0, :, :6].eq(1).all() and grad[0, :, 6:].eq(0).all()  # the bottom 2 rows left the frame
    assert grad[1, :, :, 3:].eq(1).all() and grad[1, :, :, :3].eq(0).all()


def test_random_translation_stays_within_the_ratio():
    g = torch.Generator().manual_seed(0)
    img = _dot(200, 16, 8, 8)
    rows, cols = _position(random_translation(img, g, ratio=0.125))
    assert (rows - 8).abs().max() == 2 and (cols - 8).abs().max() == 2  # 0.125 * 16
    assert len(set((rows * 100 + cols).tolist())) > 15


def test_cut_out_zeros_a_square_of_the_given_side():
    out = cut_out(torch.ones(2, 3, 8, 8), torch.tensor([4, 0]), torch.tensor([4, 0]), 4)
    assert out[0].eq(0).sum() == 3 * 16 and out[0, :, 2:6, 2:6].eq(0).all()
    assert out[1].eq(0).sum() == 3 * 4 and out[1, :, :2, :2].eq(0).all()  # clipped at the corner


def test_rotate90_matches_torch_rot90_per_image():
    img = torch.rand(4, 2, 5, 5)
    out = rotate90(img, torch.tensor([0, 1, 2, 3]))
    for i in range(4):
        assert torch.equal(out[i], torch.rot90(img[i], i, dims=(1, 2)))


def test_rotate90_turns_non_square_images_by_half_turns_only():
    img = torch.rand(4, 1, 3, 5)
    out = rotate90(img, torch.tensor([0, 1, 2, 3]))
    assert out.shape == img.shape
    assert torch.equal(out[1], img[1]) and torch.equal(out[2], img[2].flip(1, 2)) and torch.equal(out[3], img[3].flip(1, 2))


def test_colour_ops_keep_what_they_should():
    img = torch.rand(3, 3, 6, 6) * 2 - 1
    c = scale_contrast(img, torch.tensor([0.5, 1.0, 2.0]))
    assert torch.allclose(c.mean(dim=(1, 2, 3)), img.mean(dim=(1, 2, 3)), atol=1e-6)
    assert torch.allclose(c[1], img[1])
    grey = img[:, :1].expand(3, 3, 6, 6)
    assert torch.allclose(scale_saturation(grey, torch.tensor([0.0, 2.0, 5.0])), grey)


def test_random_augment_is_differentiable_and_changes_every_image():
    g = torch.Generator().manual_seed(1)
    img = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    out = random_augment(img, ("xflip", "color", "translation", "cutout"), g)
    assert out.shape == img.shape
    assert ((out - img).reshape(8, -1).abs().amax(1) > 0).all()
    out.square().sum().backward()
    assert torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0


def test_ada_augment_p0_is_identity_and_p1_applies_every_op():
    g = torch.Generator().manual_seed(2)
    img = torch.rand(16, 3, 8, 8) * 2 - 1
    assert torch.equal(ada_augment(img, torch.tensor(0.0), ("xflip", "rot90", "translation", "color"), g), img)
    out = ada_augment(img, torch.tensor(1.0), ("color",), g)
    assert ((out - img).reshape(16, -1).abs().amax(1) > 0).all()


def test_ada_augment_applies_each_op_with_probability_p():
    g = torch.Generator().manual_seed(3)
    img = torch.rand(4000, 1, 4, 4)
    out = ada_augment(img, torch.tensor(0.3), ("color",), g)
    changed = ((out - img).reshape(4000, -1).abs().amax(1) > 0).float().mean()
    # brightness and contrast each with p (saturation does nothing to grey images)
    assert abs(float(changed) - (1 - 0.7 ** 2)) < 0.03


def test_point_forms():
    g = torch.Generator().manual_seed(4)
    ref = torch.tensor([[0.0, 0.0], [2.0, 4.0]])  # extent (2, 4), mean (1, 2)
    pts = torch.zeros(500, 2)
    shifted = random_translation(pts, g, ratio=0.25, reference=ref)
    assert shifted[:, 0].abs().max() <= 0.5 and shifted[:, 1].abs().max() <= 1.0
    assert shifted[:, 1].abs().max() > 0.9
    centre = ref.mean(0)
    x = torch.tensor([[3.0, 2.0], [3.0, 2.0]])
    assert flip_points(x, torch.tensor([True, False]), centre).tolist() == [[-1.0, 2.0], [3.0, 2.0]]
    assert rotate_points(x, torch.tensor([1, 2]), centre).tolist() == [[1.0, 4.0], [-1.0, 2.0]]
    assert torch.equal(random_augment(pts, ("color", "cutout"), g), pts)  # no point form
