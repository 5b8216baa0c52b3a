"""Control plane: the DAL façade, repositories, migrations, locks."""
