"""Radio models: path loss, shadowing, antennas, SINR and link mapping (pure functions over arrays)."""
