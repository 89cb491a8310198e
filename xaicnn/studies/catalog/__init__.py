"""The experiments of the original reports, one module per study; importing this package registers them all
(order = listing order)."""
from . import augmentation, vgg_kernel, inception_1x1, depth50, resnet_depth, plain_vs_residual  # noqa: F401
from . import mnist_blocks, alpha_bottleneck, lecture_shapes  # noqa: F401
