"""Soundtrack Emotion: valence, arousal and dominance of film soundtracks."""

from soundtrack_emotion.console import quiet_tensorflow

# Before anything imports TensorFlow (Kedro loads settings.py, hence this package, first).
quiet_tensorflow()

__version__ = "0.1.0"
