"""Authoring: what a pack's author uses to turn a post-mortem into a proven scenario.

``new-pack`` and ``new`` scaffold a pack and a scenario from templates (``templates/``),
``postmortem`` drafts a scenario's text from a post-mortem in Markdown, and ``dev`` is the
author's live loop. The stage above ``play``: it may use every other stage of the library.
"""
