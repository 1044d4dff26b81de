"""Files on disk: atomic writes, folder ownership, a sweep's saved result, zoom and comparison data.

Imports only core."""
