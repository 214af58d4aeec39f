"""One step's gradient per parameter group: DGL's routed pair (eq. 15) is not the summed-loss update."""

import copy

import torch
import torch.nn.functional as F

from dglnb.analysis import updates
from tiny_models import AUDIO_VISUAL, VECTORS, grads, make_batch, tiny_model

ALPHA = 2.0


def test_dgl_step_is_the_concatenation_of_each_loss_on_its_own_group():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    step = updates.step_gradients(model, "dgl", batch, ALPHA)
    feats = model.encode(batch)
    y = batch["label"]
    for m in model.modalities:
        expected = grads(
            ALPHA * F.cross_entropy(model.fuse_alone(feats, m), y), model.encoder_parameters(m)
        )
        torch.testing.assert_close(step[f"encoder {m}"], torch.cat([g.flatten() for g in expected]))
    detached = {m: z.detach() for m, z in feats.items()}
    expected = grads(F.cross_entropy(model.fuse(detached), y), model.fusion_parameters())
    torch.testing.assert_close(step["fusion"], torch.cat([g.flatten() for g in expected]))


def test_joint_aux_step_is_the_gradient_of_the_summed_loss_everywhere():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    feats = model.encode(batch)
    y = batch["label"]
    total = F.cross_entropy(model.fuse(feats), y) + ALPHA * sum(
        F.cross_entropy(model.fuse_alone(feats, m), y) for m in model.modalities
    )
    step = updates.step_gradients(model, "joint_aux", batch, ALPHA)
    for name, params in updates.parameter_groups(model).items():
        torch.testing.assert_close(
            step[name], torch.cat([g.flatten() for g in grads(total, params)])
        )


def test_compare_steps_leaves_the_model_untouched_and_tells_dgl_from_joint_aux():
    model, batch = tiny_model(VECTORS), make_batch(VECTORS)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    same = updates.compare_steps(model, batch, "dgl", "dgl", ALPHA)
    diff = updates.compare_steps(model, batch, "dgl", "joint_aux", ALPHA)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert (same["relative difference"] == 0).all() and torch.allclose(
        torch.tensor(same["cosine"].values), torch.ones(3, dtype=torch.float64)
    )
    assert (diff["relative difference"] > 1e-3).all()
    assert list(diff.index) == ["encoder audio", "encoder visual", "fusion"]


def test_gradients_are_those_of_a_training_step_even_for_a_model_in_eval_mode():
    """Batch norm normalises with the batch's statistics in the step being measured, not with the
    running statistics a loaded (eval-mode) model would use; the model's own mode is kept."""
    model, batch = tiny_model(AUDIO_VISUAL), make_batch(AUDIO_VISUAL)
    model.eval()

    def summed_loss_gradient(training: bool) -> torch.Tensor:
        clone = copy.deepcopy(model).train(training)
        feats, y = clone.encode(batch), batch["label"]
        total = F.cross_entropy(clone.fuse(feats), y) + ALPHA * sum(
            F.cross_entropy(clone.fuse_alone(feats, m), y) for m in clone.modalities
        )
        return torch.cat([g.flatten() for g in grads(total, clone.encoder_parameters("audio"))])

    step = updates.step_gradients(model, "joint_aux", batch, ALPHA)["encoder audio"]
    torch.testing.assert_close(step, summed_loss_gradient(training=True))
    assert not torch.allclose(step, summed_loss_gradient(training=False))
    assert not model.training
