"""The persist step of the face pipeline."""
