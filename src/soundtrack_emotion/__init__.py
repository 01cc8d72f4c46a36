"""Soundtrack Emotion: valence, arousal and dominance of film soundtracks."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) drowns the pipeline logs; warnings
# and errors still show. The user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
