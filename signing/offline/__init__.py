"""The offline signer's parts (``python -m signing.cli`` is their entry point).

``errors`` (a refusal for the user), ``keyfile`` (passphrases, the encrypted key file and files never
overwritten), ``http_client`` (the few ``/api/v1`` calls) and ``checks`` (what is verified here before
anything is signed). Like ``signing.cli``, they need the standard library and ``cryptography`` only.
"""
