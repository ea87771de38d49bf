"""The emulated world: clock, radio, RAN slicing, MEC offloading, control points and traces."""
