"""A composite family in extraction: its members are computed once per track with it, and its
rows are theirs side by side (real MFCC and harmony members, no network)."""

from __future__ import annotations

import numpy as np

from soundtrack_emotion.core.families.fusion import FusionFamily, Interaction
from soundtrack_emotion.core.families.harmony import HarmonyFamily
from soundtrack_emotion.core.harmony import HARMONY_FEATURE_NAMES
from soundtrack_emotion.pipelines.feature_extraction.tracks import TrackTask, extract_track
from soundtrack_emotion.runtime.feature_settings import ExtractionParams


def test_extracting_a_member_and_the_fusion_computes_the_member_once(
    audio_file, params, monkeypatch
):
    calls = []
    compute = HarmonyFamily.compute

    def counted(self, waveform, model=None):
        calls.append(len(waveform))
        return compute(self, waveform, model)

    monkeypatch.setattr(HarmonyFamily, "compute", counted)
    params["fusion"] = {
        "members": ["harmony", "mfcc"],
        "interactions": [{"left": ["harmony/mode_strength"], "right": ["mfcc/*"]}],
    }
    p = ExtractionParams.from_dict(params)
    fusion, harmony = p.family("fusion"), p.family("harmony")
    assert isinstance(fusion, FusionFamily) and fusion.interactions == (
        Interaction(left=("harmony/mode_strength",), right=("mfcc/*",)),
    )
    path = audio_file("song.wav", 12.5)
    task = TrackTask(id="song", path=str(path), families=(harmony, fusion), decoding=p.decoding)

    result = extract_track(task)

    assert result.error is None and len(calls) == 1
    harmony_rows = result.outputs["harmony"].rows
    fused = result.outputs["fusion"].rows
    # MFCC's 46 ms windows follow harmony's 3 s blocks: each block takes its centre window.
    assert fused.shape == (4, harmony_rows.shape[1] + 13 + 13)
    np.testing.assert_array_equal(fused[:, : harmony_rows.shape[1]], harmony_rows)
    mode = harmony_rows[:, [HARMONY_FEATURE_NAMES.index("mode_strength")]]
    np.testing.assert_allclose(fused[:, -13:], mode * fused[:, -26:-13], rtol=1e-6)
