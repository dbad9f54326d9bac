"""Every public layer and model opens its docstring with the paper it implements, as PyG's do."""

from __future__ import annotations

import inspect
import re

import pytest

import awgnn.models
import awgnn.nn
import awgnn.nn.models

PUBLIC_CLASSES = sorted(
    {
        getattr(module, name)
        for module in (awgnn.nn, awgnn.nn.models, awgnn.models)
        for name in module.__all__
        if inspect.isclass(getattr(module, name))
    },
    key=lambda cls: cls.__qualname__,
)
# A reStructuredText link to an arXiv abstract or a DOI: `"Title" <url>`_
PAPER_LINK = re.compile(r'`"[^"`]+"\s+<https://(arxiv\.org/abs/\d{4}\.\d{4,5}|doi\.org/10\.\S+)>`_')


def first_sentence(docstring: str) -> str:
    """The docstring's first paragraph up to the first full stop, question or exclamation mark before a space."""
    paragraph = " ".join(inspect.cleandoc(docstring).split("\n\n")[0].split())
    return re.split(r"(?<=[.?!])\s", paragraph, maxsplit=1)[0]


def test_first_sentence_stops_at_the_first_full_stop():
    assert first_sentence('The `"A Title?" <x>`_ paper. Then\n    more.\n\nNext.') == 'The `"A Title?" <x>`_ paper.'


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda cls: cls.__qualname__)
def test_public_class_docstring_opens_with_its_paper(cls):
    assert cls.__doc__, f"{cls.__qualname__} has no docstring of its own"
    sentence = first_sentence(cls.__doc__)
    assert PAPER_LINK.search(sentence), f"{cls.__qualname__}'s first sentence cites no paper: {sentence!r}"
