from edujax.cli import entry

entry()
