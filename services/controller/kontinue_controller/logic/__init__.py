"""Pure decision logic of the controller: no kopf, no I/O, tested on its own."""
