"""Soundtrack Emotion: valence, arousal and dominance of film soundtracks."""

from soundtrack_emotion.runtime.console import quiet_import_warnings, quiet_tensorflow

# Before anything imports TensorFlow or Kedro's plugins (Kedro loads settings.py, hence this
# package, first).
quiet_tensorflow()
quiet_import_warnings()

__version__ = "0.1.0"
