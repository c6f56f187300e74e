"""The corpus: reading articles, removing boilerplate, splitting sentences, finding actor mentions.

Public API::

    from annotate.corpus import ingest_paths, write_jsonl, read_sentences, load_registry, load_manifest

    result = ingest_paths(["seeds/"])          # IngestResult(records, errors, articles, warnings)
    write_jsonl("work/sentences.jsonl", result.records)
    records = read_sentences("work/sentences.jsonl")
    load_registry().display_name("ttp")        # "Tehreek-e-Taliban Pakistan (TTP)"

Importing this package is cheap: spaCy is imported on first use.
"""

from annotate.corpus.actors import ActorRegistry, RegistryError, UnknownActorError, load_registry
from annotate.corpus.cleaning import CleanedText, CleaningRules, RulesError, clean_text, load_rules
from annotate.corpus.ingest import (
    ArticleSummary,
    IngestResult,
    ingest_article,
    ingest_paths,
    original_offsets,
    sentence_id,
)
from annotate.corpus.jsonl import JsonlError, iter_jsonl, read_sentences, write_jsonl
from annotate.corpus.manifest import ArticleMeta, ManifestError, load_manifest
from annotate.corpus.readers import DEFAULT_MAX_BYTES, ColumnMap, CorpusIssue
from annotate.corpus.sentences import split_sentences

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ActorRegistry",
    "ArticleMeta",
    "ArticleSummary",
    "CleanedText",
    "CleaningRules",
    "ColumnMap",
    "CorpusIssue",
    "IngestResult",
    "JsonlError",
    "ManifestError",
    "RegistryError",
    "RulesError",
    "UnknownActorError",
    "clean_text",
    "ingest_article",
    "ingest_paths",
    "iter_jsonl",
    "load_manifest",
    "load_registry",
    "load_rules",
    "original_offsets",
    "read_sentences",
    "sentence_id",
    "split_sentences",
    "write_jsonl",
]
