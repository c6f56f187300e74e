"""Label Studio round trip: a local server, a connection, push of tasks and pull of annotations.

Submodules (import what you need; nothing heavy is imported here):

- :mod:`.server`     start/stop/status of a local Label Studio 1.23.2 in its own venv
- :mod:`.connection` URL + API token (env or the local server's token file), clear errors
- :mod:`.tasks`      SentenceRecord -> task data; PredictionRecord -> prediction results
- :mod:`.push`       idempotent push of sentences, predictions and annotation records
- :mod:`.pull`       JSON export -> flat :class:`annotate.schema.AnnotationRecord` list
"""
