"""Code shared by the detect, persist and notify steps: ports, record model, error names."""
