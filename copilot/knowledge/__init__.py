"""The policy knowledge base: ingest, version and search policy documents with citations.

kb = KnowledgeBase.from_settings(settings)
kb.ensure_defaults()
for passage in kb.search("¿cuándo caduca una oferta?", jurisdiction="US"):
    print(passage.citation())
"""

from copilot.knowledge.base import (
    DocumentInfo,
    FileOutcome,
    IngestReport,
    KnowledgeBase,
    Passage,
)
from copilot.knowledge.retriever import PolicyRetriever, ScoringConfig

__all__ = [
    "DocumentInfo",
    "FileOutcome",
    "IngestReport",
    "KnowledgeBase",
    "Passage",
    "PolicyRetriever",
    "ScoringConfig",
]
