"""The browser's HTML pages: one module per blueprint, named like its folder under ``templates/``.

Views are thin: a guard (``guards``) loads what the URL names and checks the role, a service decides
and commits, the view renders or redirects.
"""
