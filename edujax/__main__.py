from edujax.app.cli import entry

entry()
