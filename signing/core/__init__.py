"""The Flask-free core: the exact bytes that are signed, bundles and their verifier, the PDF.

Nothing here imports Flask, SQLAlchemy or the rest of ``signing`` but ``signing.text``: the offline
verifier and the delegate's CLI signer run with the standard library and ``cryptography`` alone.
"""
