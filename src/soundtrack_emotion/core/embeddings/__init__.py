"""The pretrained embedding networks the feature families run (VGGish, MusiCNN) and the
registry-served weights they load."""
