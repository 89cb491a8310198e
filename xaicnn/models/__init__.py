"""The architecture zoo. ``create(name, *, in_channels, num_classes, image_size, **options)`` builds any
registered architecture; ``available()`` lists them. Importing this package registers every family."""
from ._common import output_shape
from ._registry import MODELS, ModelSpec, available, create, get_spec, min_image_size, register_model

# Import every family so that registration always happens (order = listing order).
from . import lenet, alexnet, vgg, inception, resnet, cifar_resnet, fully_connected, blocks, alpha  # noqa: E402,F401

__all__ = ["MODELS", "ModelSpec", "available", "create", "get_spec", "min_image_size", "output_shape", "register_model"]
