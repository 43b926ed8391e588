"""The detect step of the face pipeline."""
