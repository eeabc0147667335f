"""The models' first layer: check what comes in, so a wrong input fails with a clear message."""

import keras


@keras.saving.register_keras_serializable(package="cct")
class ImageCheck(keras.layers.Layer):
    """Passes (N, height, width, 3) images through; raises a ValueError naming the expected
    shape for anything else. (Without it a 1-channel image would silently broadcast
    against the 3-channel normalisation.)"""

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height = height
        self.width = width

    def call(self, images):
        if tuple(images.shape[1:]) != (self.height, self.width, 3):
            raise ValueError(
                f"The model expects RGB images of shape (N, {self.height}, {self.width}, 3) with pixel "
                f"values 0-255, got shape {tuple(images.shape)}. Resize images to "
                f"{self.height}x{self.width} (or build the model with image_size=...), and repeat "
                "grayscale images over 3 channels (np.repeat(x, 3, axis=-1))."
            )
        return images

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
