"""Papers outside the ranking model's corpus (a reader's library, old likes) are vectorised once
per ranking (`Model.knowing`) and read back as they would be transformed: the same rows, in the
order asked, mixed with corpus papers; the corpus itself unchanged."""

from __future__ import annotations

import numpy as np
from helpers import stored

from digest import rank
from digest.models import Profile

CORPUS = [
    stored("c1", "Robot grasping with tactile sensing", "Grippers learn to grasp objects."),
    stored("c2", "Legged locomotion on rough terrain", "Quadruped robots walk on rocks."),
    stored("c3", "Language models for code", "Transformers write programs."),
]
OUTSIDE = [
    stored("o1", "Dexterous manipulation from demonstrations", "A robot hand learns to grasp."),
    stored("o2", "Terrain-aware gait planning", "Quadruped locomotion over stairs."),
]


def test_rows_made_once_are_the_rows_transformed_in_the_order_asked() -> None:
    model = rank.fit(CORPUS)
    knowing = model.knowing([*OUTSIDE, CORPUS[0]])
    assert list(knowing.outside) == ["o1", "o2"] and knowing.index == model.index
    assert knowing.matrix is model.matrix  # the corpus is the same
    asked = [OUTSIDE[1], CORPUS[0], OUTSIDE[0], CORPUS[2]]
    made = knowing.paper_vectors(asked).toarray()
    assert np.allclose(made, model.vectors([p.text for p in asked]).toarray())
    assert knowing.knowing(OUTSIDE) is knowing  # nothing new to make
    stranger = stored("o3", "Something else entirely", "Not made before.")
    assert np.allclose(  # a paper not made before is transformed, as before
        knowing.paper_vectors([stranger, OUTSIDE[0]]).toarray(),
        model.vectors([stranger.text, OUTSIDE[0].text]).toarray(),
    )


def test_a_reader_whose_liked_papers_are_outside_the_corpus_ranks_as_before() -> None:
    model = rank.fit(CORPUS)
    ranked = rank.rank_many(model, [(Profile(name="zoe"), OUTSIDE)], CORPUS)["zoe"]
    assert {s.paper.id for s in ranked[:2]} == {"c1", "c2"}  # the robotics papers
    assert {s.closest.id for s in ranked[:2] if s.closest} <= {"o1", "o2"}
