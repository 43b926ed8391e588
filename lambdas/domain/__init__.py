"""The domain shared by the detect, persist and notify steps (standard library only): the
record model, the face summary, ordering rules, the email text, the ports, one errors module."""
