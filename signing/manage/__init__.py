"""The operators' ``flask --app wsgi …`` commands and the demo network they can load."""
