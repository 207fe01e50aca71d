"""Example workflows shipped with kontinue.

``kontinue_examples.all`` registers every example (what ``make dev``'s worker serves):
hello-world, deploy-pipeline (children, an approval gate, progress), fan-out (parallel
children), nightly-report (a scheduled job). Each module also works on its own.
"""
