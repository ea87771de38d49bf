"""Network topology as networkx graphs: sites, cells, MEC servers, backhaul, neighbour relations."""
