"""The notify step of the face pipeline."""
