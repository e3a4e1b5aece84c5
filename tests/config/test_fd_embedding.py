"""evaluation.fd_embedding: the FD's feature space apart from the votes', with its own private embeddings."""

import pytest

from privevo.config.layout import Layout
from privevo.config.triggers import rule_settings
from privevo.config.params import ParamsError, load_params, validate_params
from privevo.config.runs import Sweep

from conftest import ROOT, mutate, write_params


@pytest.fixture
def lite0_votes():
    return validate_params(mutate(load_params(ROOT / "config" / "smoke.yaml"), "sweep.seeds", [0, 1]))


@pytest.fixture
def pixel_votes(lite0_votes):
    """Votes on raw pixels, FD in Lite0's space."""
    return validate_params(mutate(mutate(lite0_votes, "embedding.name", "pixels"), "evaluation.fd_embedding", "lite0"))


def test_null_or_the_votes_own_name_changes_no_folder(lite0_votes):
    same = Layout(validate_params(mutate(lite0_votes, "evaluation.fd_embedding", "lite0")))
    default = Layout(lite0_votes)
    assert same.keys == default.keys
    assert default.fd_private_embeddings == default.private_embeddings
    assert default.reference_stats.endswith(f"reference-{default.keys['embedding']}.npz")


def test_fd_in_lite0_reads_the_lite0_votes_private_embeddings(lite0_votes, pixel_votes):
    pixels, lite0 = Layout(pixel_votes), Layout(lite0_votes)
    assert pixels.keys["embedding"].startswith("pixels-") and pixels.keys["fd_embedding"].startswith("lite0-")
    # The same files a config voting in Lite0 makes: switching the votes' space re-embeds nothing for the FD.
    assert pixels.fd_private_embeddings == lite0.private_embeddings
    assert pixels.reference_stats == lite0.reference_stats
    assert pixels.private_embeddings != lite0.private_embeddings
    assert rule_settings(pixel_votes, "eval_fd_curve")["name"] == "lite0"
    assert rule_settings(pixel_votes, "eval_cleanfid_check")["name"] == "lite0"
    assert rule_settings(pixel_votes, "embed_private")["name"] == "pixels"


def test_the_fd_space_moves_the_evaluation_folder_only(pixel_votes):
    other = validate_params(mutate(pixel_votes, "evaluation.fd_embedding", None))
    first, second = Layout(pixel_votes), Layout(other)
    assert first.run_dir == second.run_dir and first.base_dir == second.base_dir
    assert first.eval_dir != second.eval_dir
    assert first.real_downstream == second.real_downstream


def test_the_fd_embedding_step_gets_the_fd_embedder(pixel_votes, tmp_path):
    path = write_params(tmp_path / "params.yaml", pixel_votes)
    sweep = Sweep(load_params(path))
    run = sweep.runs[0]
    view = sweep.run_for("embedding", run.layout.keys["fd_embedding"])
    assert view.overrides("embedding") == [f"seed={run.model_seed}", "embedding.name=lite0"]
    assert view.layout.private_embeddings == run.layout.fd_private_embeddings
    # What the embed-private step loads with those overrides is the view's params.
    assert load_params(path, view.overrides("embedding"))["embedding"]["name"] == "lite0"
    assert rule_settings(view.params_for("embedding"), "embed_private")["name"] == "lite0"
    # The votes' own key still finds the run itself, with no embedder override.
    assert sweep.run_for("embedding", run.layout.keys["embedding"]).overrides("embedding") == [f"seed={run.model_seed}"]


@pytest.mark.parametrize("value, message", [
    ("resnet", "evaluation.fd_embedding"),
    ("inception", "embedding.inception_path: required when evaluation.fd_embedding is 'inception'"),
    (3, "evaluation.fd_embedding"),
])
def test_a_bad_fd_embedding_is_one_line_naming_the_key(lite0_votes, value, message):
    with pytest.raises(ParamsError, match=message.replace(".", r"\.")) as error:
        validate_params(mutate(lite0_votes, "evaluation.fd_embedding", value))
    assert "\n" not in str(error.value)
