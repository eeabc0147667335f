"""Machinery a student can skip: what feeds the images to training, augmented as a recipe asks.

Two paths, one augmentation. On the device (every backend but TensorFlow on a CPU), the host
draws every random number in NumPy (`draws`), `batches.ImageBatches` hands uint8 images and
those numbers to `model.fit`, and the model's training step does the pixel work with
`keras.ops` (`on_device`, timm's recipe). For TensorFlow on a CPU, `host` builds tf.data
pipelines from Keras' augmentation layers instead: the CPU path's approximation, faster there.
`feed.training_data` chooses between them for `train()`.
"""
