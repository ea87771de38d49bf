"""The topology map is written as a PNG that shows the sites and MEC servers."""
import matplotlib.image as mpimg
import numpy as np
import pytest

from topology.build import build_topology
from topology.config import TopologyConfig
from topology.plot import plot_topology


def colour_pixels(img, rgb, tol=0.06):
    return int((np.abs(img[..., :3] - np.array(rgb)) < tol).all(axis=-1).sum())


TAB_BLUE = (0x1F / 255, 0x77 / 255, 0xB4 / 255)
TAB_PURPLE = (0x94 / 255, 0x67 / 255, 0xBD / 255)


@pytest.mark.parametrize("layout,mec", [
    ({"kind": "hex", "num_sites": 4}, {"servers": "per_site", "core": {}}),
    ({"kind": "hex", "num_sites": 19, "wrap_around": True}, {"servers": "none"}),
    ({"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0, "sectors": 1}, {"x_m": 800, "y_m": 100}]}, {"servers": [{"x_m": 300, "y_m": 300}]}),
])
def test_plot_writes_png_with_sites_and_mec(tmp_path, layout, mec):
    G = build_topology(TopologyConfig.model_validate({"layout": layout, "mec": mec}))
    out = plot_topology(G, tmp_path / "sub" / "map.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 300
    assert colour_pixels(img, TAB_BLUE) > 20  # site markers
    has_mec = colour_pixels(img, TAB_PURPLE) > 10
    assert has_mec == (mec["servers"] != "none")
