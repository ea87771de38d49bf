"""The emulated world: clock, radio, RAN slicing, MEC offloading, control points and traces."""
import logging

# A library's loggers stay silent unless the application configures logging: model warnings go to
# the run's run.log (emulator.emulation attaches it) and to the terminal only with `ranemu -v`.
logging.getLogger("ranemu").addHandler(logging.NullHandler())
