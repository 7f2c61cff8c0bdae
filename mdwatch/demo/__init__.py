"""The bundled demo platform 「康护优选」: a static site (package data) and a local server.

``mdwatch.demo.server.serve()`` serves it on 127.0.0.1; ``python -m mdwatch.demo.sitegen``
regenerates it from ``spec.yaml`` together with the labelled truth ``tests/corpus/pages.yaml``.
"""
