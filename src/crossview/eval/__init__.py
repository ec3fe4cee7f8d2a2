"""Evaluation harness: loaders, prompts, backends, answer extraction, scoring, runs and reports.

Entry points: :func:`crossview.eval.runner.run_eval` (Python) and the CLI functions in
:mod:`crossview.eval.commands`. Nothing heavy is imported here.
"""
