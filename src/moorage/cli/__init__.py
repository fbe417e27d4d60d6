"""moorage's command line (Typer): one module per command group, registered in ``main``."""
