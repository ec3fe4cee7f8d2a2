"""The classical-vision solver: what multi-view geometry alone achieves on each question type.

``crossview eval --model classical`` runs it through the harness; see docs/classical.md.
"""
