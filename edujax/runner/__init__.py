"""Running a sweep: tracing one run, planning memory, the chunk loop, assembling the result. Imports core and store."""
