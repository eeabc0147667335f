"""The paper recipe's augmentations, built from Keras' own layers and scaled like timm's.

The official code trains with timm's `rand-m9-mstd0.5-inc1`: RandAugment, two operations per
image at magnitude 9 of 10. Keras' `RandAugment(factor=f)` passes the same `f` to every
operation, and each reads it in its own units: at f = 0.9 that is a rotation of up to
+-324 degrees and a shift of up to 90% of the image, where timm rotates by 27 degrees and
shifts by 40%. `TimmScaledRandAugment` keeps Keras' layer and its choice of operations, and
gives each operation timm's strength at the chosen magnitude.

What still differs from timm, and why (Keras' layers offer no closer setting):
- strength: each Keras operation draws its strength uniformly between none and the cap
  below, so on average half of it; timm holds it at 9 +- 0.5 (`mstd0.5`);
- operations: Keras has 11 (no Invert; shear and shift move along both axes in one operation;
  solarize-add is folded into solarize), timm 15; timm also skips each chosen operation with
  probability 0.5, Keras always applies it;
- brightness: Keras adds a shift, PIL (timm) multiplies; the cap shifts a mid-grey pixel as
  far as timm's factor does; colour: Keras only desaturates, timm also saturates.
"""

import keras

TIMM_MAGNITUDE = 9  # rand-m9
TIMM_MAX_LEVEL = 10.0


@keras.saving.register_keras_serializable(package="cct")
class TimmScaledRandAugment(keras.layers.RandAugment):
    """Keras' RandAugment with each operation capped at timm's strength for `magnitude`
    (0-10, the paper's 9), on images with values 0-255."""

    def __init__(self, magnitude=TIMM_MAGNITUDE, num_ops=2, seed=None, **kwargs):
        if not 0 <= magnitude <= TIMM_MAX_LEVEL:
            raise ValueError(f"magnitude must lie in [0, 10] like timm's, got {magnitude!r}.")
        kwargs.pop("factor", None)  # the operations' strengths come from `magnitude`
        kwargs.pop("value_range", None)
        super().__init__(value_range=(0, 255), num_ops=num_ops, factor=magnitude / TIMM_MAX_LEVEL, seed=seed, **kwargs)
        self.magnitude = magnitude
        level = magnitude / TIMM_MAX_LEVEL
        enhance = 0.9 * level  # timm's *Increasing enhancements: PIL factor 1 +- 0.9 * level
        common = dict(seed=seed, data_format=self.data_format)
        self.random_rotation = keras.layers.RandomRotation(30.0 * level / 360.0, **common)
        self.random_shear = keras.layers.RandomShear(0.3 * level, 0.3 * level, **common)
        self.random_translation = keras.layers.RandomTranslation(0.45 * level, 0.45 * level, **common)
        self.random_brightness = keras.layers.RandomBrightness(enhance / 2, value_range=(0, 255), **common)
        self.random_color_degeneration = keras.layers.RandomColorDegeneration(enhance, **common)
        self.random_contrast = keras.layers.RandomContrast(enhance, value_range=(0, 255), **common)
        # Keras' sharpness factor is PIL's halved: 0.5 leaves the image as it is.
        self.random_sharpness = keras.layers.RandomSharpness(
            (0.5 - enhance / 2, 0.5 + enhance / 2), value_range=(0, 255), **common
        )
        # timm's SolarizeIncreasing inverts pixels above 256 * (1 - level).
        self.solarization = keras.layers.Solarization(
            threshold_factor=(1.0 - level, 1.0 - level), value_range=(0, 255), **common
        )
        # timm's PosterizeIncreasing keeps 4 - int(4 * level) bits (at least 1 in Keras).
        self.random_posterization = keras.layers.RandomPosterization(
            factor=max(1, 4 - int(4 * level)), value_range=(0, 255), **common
        )

    def get_config(self):
        config = super().get_config()
        for key in ("factor", "value_range"):
            config.pop(key, None)
        return {**config, "magnitude": self.magnitude}


def random_erasing(probability, seed=None):
    """Keras' RandomErasing that erases each image with exactly `probability` (timm's reprob).
    Keras reads a single float p as a range: it would draw each image's probability from [0, p]."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"random_erasing is a probability in [0, 1], got {probability!r}.")
    return keras.layers.RandomErasing(factor=(probability, probability), value_range=(0, 255), seed=seed)

