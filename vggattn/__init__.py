"""vggattn: attention mechanisms (SE, spatial, CBAM, dynamic convolution) added to VGG16."""

__version__ = "0.1.0"
