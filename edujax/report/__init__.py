"""Drawing and publishing: figures, maps and the results page. Imports core and store."""
