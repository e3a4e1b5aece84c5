"""The bottom layer: class names, seeded random streams, devices, timing and the registry of parts."""
