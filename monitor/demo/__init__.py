"""The demo: a loopback fleet of government sites (``fleet``), ``govwatch demo`` (``command``) and the simulated
quarter of ``govwatch report --demo`` (``quarter``). Only the CLI, the tests and the benchmarks import it."""
