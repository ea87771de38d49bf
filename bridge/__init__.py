"""How agents and people attach: ZeroMQ server and client, Gymnasium/PettingZoo envs, the `ranemu` CLI."""
