"""MEC offloading: IoT devices, tasks, uplink, MEC servers, execution, energy and control points."""
