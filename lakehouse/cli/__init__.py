"""The ``lakehouse`` command line (typer): thin commands over the DAL and the planes."""
