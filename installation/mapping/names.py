"""The vocabulary presets speak: feature names (what the room senses) and parameter names (what
the picture does). A preset naming anything else is rejected at load, with these lists."""

from __future__ import annotations

# Features the senses publish every frame (see docs/senses.md for ranges).
FEATURES: tuple[str, ...] = (
    "loudness",
    "loudness_db",
    "band_low",
    "band_mid",
    "band_high",
    "spectral_centroid",
    "onset",
    "tempo_bpm",
    "beat_phase",
    "beat_confidence",
    *(f"chroma_{i}" for i in range(12)),
    "motion",
    "motion_x",
    "motion_y",
    "motion_cx",
    "motion_cy",
    "presence",
    "occupied",
    "faces",
    "face_x",
    "face_y",
    "face_size",
    "smile",
    "brightness",
    "hue",
    "saturation",
    "touch",  # 0..1: how much touch activity there is right now (from the touch tracker)
)

# Parameters rules may drive, with their neutral values (what they are with no rule and no preset base).
PARAMETERS: dict[str, float] = {
    "speed": 1.0,  # walk speed multiplier
    "diversity": 1.0,  # latent scale: 0 = the average image, 1 = typical, >1 = wilder (truncation)
    "drift": 0.0,  # noise drift amplitude, latent units
    "steer": 0.0,  # camera flow -> movement along the model's principal directions
    "pulse": 0.0,  # size of the jump an onset/beat/tap triggers
    "mirror_pull": 0.0,  # 0..1 how far the walk is pulled toward the visitor's encoded image
    "learned_pull": 0.0,  # 0..1 how far the walk follows the learned (demonstrated) mapping
    "trails": 0.0,  # 0..0.95 feedback of the previous output
    "grain": 0.0,  # 0..0.3 film grain
    "hue_shift": 0.0,  # -1..1 turns of the colour wheel
    "zoom": 1.0,  # 1 = fill, >1 = push in
    # Field models only (installation/render/field.py): how the field is drawn at screen resolution.
    "threshold": 0.0,  # -0.8..0.8 field units: > 0 thickens every stroke, < 0 thins it
    "wetness": 0.25,  # 0..1 how far and how strongly the wash (glow) spreads out from the ink
    "warmth": 0.0,  # -1..1 cooler .. warmer palette
    "splash": 0.0,  # 0..1 rising past 0.35 throws a spatter of ink drops around the strokes
}
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "speed": (0.0, 50.0),
    "diversity": (0.0, 2.5),
    "drift": (0.0, 3.0),
    "steer": (0.0, 5.0),
    "pulse": (0.0, 5.0),
    "mirror_pull": (0.0, 1.0),
    "learned_pull": (0.0, 1.0),
    "trails": (0.0, 0.95),
    "grain": (0.0, 0.3),
    "hue_shift": (-1.0, 1.0),
    "zoom": (1.0, 3.0),
    "threshold": (-0.8, 0.8),
    "wetness": (0.0, 1.0),
    "warmth": (-1.0, 1.0),
    "splash": (0.0, 1.0),
}
