"""Soundtrack Emotion: valence, arousal and dominance of film soundtracks."""

__version__ = "0.1.0"
