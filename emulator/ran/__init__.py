"""RAN slicing: UE groups, mobility, traffic, per-TTI PRB scheduling, slice KPIs, control points."""
