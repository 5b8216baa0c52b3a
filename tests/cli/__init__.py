"""The command line, driven through the settings of the environment."""
